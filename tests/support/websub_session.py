"""Run the README's push (WebSub) session and print it, to paste as a real transcript.

    python -m tests.support.websub_session /tmp/tx

Starts the local YouTube stand-in and a fake hub (`FakeHub`), runs
`tubepoller up` with TUBEPOLLER_PUBLIC_URL and TUBEPOLLER_WEBSUB_HUB pointed
at them, subscribes, waits for the hub's verification (the next tick), then
sends a forged and a signed push. Loopback only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from poller import websub
from tests.support.fakehub import FakeHub, push_body
from tests.support.feedserver import FeedServer
from tests.support.procs import wait_for
from tests.support.readme_session import AUTH, BIN, shell

PORT = 8093  # not the README's 8080: another `tubepoller up` may hold it


def main(workdir: Path) -> None:
    data = workdir / "data"
    shutil.rmtree(data, ignore_errors=True)
    feeds, hub = FeedServer(), FakeHub()
    channel = feeds.add_channel()
    channel.upload(title="First", published=time.time() - 7 * 86400)
    topic = websub.youtube_links(channel.id, feeds.base, hub.url)
    assert topic is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(
        TUBEPOLLER_DATA_DIR=str(data),
        TUBEPOLLER_YOUTUBE_URL=feeds.base,
        TUBEPOLLER_API_BIND=f"127.0.0.1:{PORT}",
        TUBEPOLLER_ALLOW_PRIVATE_NETWORKS="1",
        TUBEPOLLER_PUBLIC_URL=f"http://127.0.0.1:{PORT}",
        TUBEPOLLER_WEBSUB_HUB=hub.url,
        PATH=f"{BIN}:{env['PATH']}",
        API=f"http://127.0.0.1:{PORT}/api",
    )
    sh = shell(env, workdir)
    sh("tubepoller db init")
    env["T"] = sh("tubepoller user add alice").splitlines()[-1]
    with (workdir / "up.log").open("w") as log:
        up = subprocess.Popen(["tubepoller", "up"], env=env, stdout=log, stderr=log, cwd=workdir)
    time.sleep(4)
    try:
        body = json.dumps({"url": f"https://www.youtube.com/channel/{channel.id}"})
        sh(f"curl -s -o /dev/null {AUTH} -H 'Content-Type: application/json' -d '{body}' "
           "$API/channels")  # fmt: skip
        wait_for(lambda: hub.verified(topic.topic), 90, "the hub's verification")
        print("    # … the next tick asked the hub, which verified at the callback:")
        listed = json.loads(sh("tubepoller channel list --json | jq '.[0].push'"))
        assert listed["state"] == "subscribed"
        token = hub.requests_for(topic.topic)[0]["hub.callback"].rsplit("/", 1)[1]
        env["CB"] = f"http://127.0.0.1:{PORT}/websub/{token}"
        env["Q"] = "hub.mode=subscribe&hub.topic=https://example.org/other&hub.challenge=x"
        sh("curl -s -w ' %{http_code}\\n' \"$CB?$Q\"")
        sh("curl -s -X POST -H 'X-Hub-Signature: sha1=0000' -d '<feed/>' -w '%{http_code}\\n' $CB")
        request = urllib.request.Request(
            f"{env['API']}/events?after=0", headers={"Authorization": f"Bearer {env['T']}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            env["LAST"] = str(json.load(answer)["last_id"])  # the first poll's catalog event
        video = channel.upload(title="Second", published=time.time())
        started = time.monotonic()
        status = hub.publish(topic.topic, push_body(channel.id, video, feeds.base))
        print(f"    # the hub pushes the upload, signed (answered {status}); its poll finds it:")
        events = "jq -c '.items[] | [.kind, .video.title]'"
        sh(f'curl -s {AUTH} "$API/events?after=$LAST&wait=10" | {events}')
        print(f"    # push received → event: {time.monotonic() - started:.2f} s")
        sh("curl -s $API/health | jq -c .push")
    finally:
        up.terminate()
        up.wait(20)
        feeds.stop()
        hub.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
