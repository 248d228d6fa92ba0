"""Re-run the README's session of channel and user management and print it.

    python -m tests.support.readme_manage /tmp/tx

Like `readme_session`: the local YouTube stand-in (`FeedServer`) with one
channel, a fresh data dir under DIR, the `tubepoller` commands, then
`tubepoller up` on 127.0.0.1:8080 for the curl commands. Loopback only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.support.feedserver import FeedServer
from tests.support.readme_session import AUTH, running_up, session_env, shell


def main(workdir: Path) -> None:
    feeds = FeedServer()
    channel = feeds.add_channel()
    channel.upload(title="First", published=time.time() - 7 * 86400)
    env = session_env(workdir / "data", feeds)
    sh = shell(env, workdir)
    try:
        sh("tubepoller db init")
        env["A"] = sh("tubepoller user add root --admin").splitlines()[-1]
        sh("tubepoller user add alice")
        sh(f"tubepoller channel add https://www.youtube.com/channel/{channel.id} --user alice")
        sh("tubepoller poll 1")
        channel.status = 503
        sh("tubepoller poll 1 2>/dev/null")
        channel.status = 200
        channel.upload(title="Second", published=time.time())
        sh("tubepoller poll 1")
        sh("tubepoller channel show 1")
        sh("tubepoller channel pause 1 --user alice")
        sh("tubepoller poll --all")
        sh("tubepoller channel resume 1 --user alice")
        sh("tubepoller channel mode 1 catalog_only --user alice")
        sh("tubepoller video download 1")
        sh("tubepoller user list")
        sh("tubepoller user token alice 2>&1; echo exit $?")
        env["T"] = sh("tubepoller user token alice --rotate").splitlines()[-1]
        with running_up(env, workdir):
            sh(f'curl -s {AUTH} "$API/channels/1/polls" | python3 -m json.tool | head -12')
            sh(f"curl -s {AUTH} -w ' %{{http_code}}\\n' $API/users")
            admin = AUTH.replace("$T", "$A")
            sh(f"curl -s {admin} $API/users")
            sh(f"curl -s {admin} -X POST $API/users/alice/token")
        sh("tubepoller user remove alice")
    finally:
        feeds.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
