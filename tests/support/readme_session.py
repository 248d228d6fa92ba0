"""Re-run the README's API session and print it, to paste as a real transcript.

    python -m tests.support.readme_session /tmp/tx

Starts the local YouTube stand-in (`FeedServer`) with one channel, runs
`tubepoller up` on a fresh data dir under DIR with TUBEPOLLER_YOUTUBE_URL
pointed at it, and runs the README's curl commands against 127.0.0.1:8080.
Loopback only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.feedserver import FeedServer

BIN = Path(sys.executable).parent
AUTH = '-H "Authorization: Bearer $T"'


def shell(env: dict[str, str], workdir: Path) -> Callable[[str], str]:
    """Return a runner that prints a command and its output, indented for the README."""

    def sh(command: str) -> str:
        print(f"    $ {command}")
        out = subprocess.run(
            command, shell=True, env=env, capture_output=True, text=True, cwd=workdir
        ).stdout
        for line in out.rstrip("\n").splitlines():
            print(f"    {line}")
        return out

    return sh


def main(workdir: Path) -> None:
    data = workdir / "data"
    shutil.rmtree(data, ignore_errors=True)
    feeds = FeedServer()
    channel = feeds.add_channel()
    channel.upload(title="First", published=time.time() - 7 * 86400)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(
        TUBEPOLLER_DATA_DIR=str(data),
        TUBEPOLLER_YOUTUBE_URL=feeds.base,
        TUBEPOLLER_API_BIND="127.0.0.1:8080",
        TUBEPOLLER_ALLOW_PRIVATE_NETWORKS="1",
        PATH=f"{BIN}:{env['PATH']}",
        API="http://127.0.0.1:8080/api",
    )

    sh = shell(env, workdir)
    sh("tubepoller db init")
    env["T"] = sh("tubepoller user add alice").splitlines()[-1]
    with (workdir / "up.log").open("w") as log:
        up = subprocess.Popen(["tubepoller", "up"], env=env, stdout=log, stderr=log, cwd=workdir)
    time.sleep(4)
    try:
        sh("curl -s $API/health")
        url = f"https://www.youtube.com/channel/{channel.id}"
        body = json.dumps({"url": url, "mode": "future_only"})
        sh(f"curl -s {AUTH} -H 'Content-Type: application/json' -d '{body}' $API/channels")
        sh(f'curl -s -X POST {AUTH} "$API/channels/1/poll?wait=30"')
        channel.upload(title="Second", published=time.time() + 1)
        time.sleep(1.5)
        sh(f'curl -s -X POST {AUTH} "$API/channels/1/poll?wait=30"')
        page = json.loads(sh(f'curl -s {AUTH} "$API/videos?limit=1"'))
        sh(f'curl -s {AUTH} "$API/videos?limit=1&cursor={page["next"]}"')
        sh(f'curl -s {AUTH} "$API/events?after=0&wait=30"')
        sh(f'curl -s {AUTH} "$API/events?after=2&wait=1"')
        sh(f"curl -s -X POST {AUTH} $API/videos/1/download")
        time.sleep(3)
        sh(f'curl -s {AUTH} "$API/videos?limit=1"')
        sh(f"curl -s -X DELETE {AUTH} -w '%{{http_code}}\\n' $API/channels/1")
    finally:
        up.terminate()
        up.wait(20)
        feeds.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
