"""The `tubepoller` command as users run it: a real process, a real database."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.answers import reply
from tests.support.cli import cli_env, run
from tests.support.feedserver import FeedServer
from tests.support.synthetic import WINDOW, rss_document


@pytest.fixture
def env(tmp_path: Path, feeds: FeedServer) -> dict[str, str]:
    return cli_env(tmp_path / "data", feeds.base)


def test_a_user_subscribes_polls_and_lists_as_json(env, feeds: FeedServer) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    run(env, "db", "init")
    token = run(env, "user", "add", "alice").stdout.splitlines()[-1]
    assert len(token) >= 40
    out = run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}").stdout
    assert "alice subscribed to channel 1" in out

    assert "channel 1: unchanged backfill=1" in run(env, "poll", "1").stdout

    channels = json.loads(run(env, "channel", "list", "--json").stdout)
    assert channels[0]["consecutive_failures"] == 0 and channels[0]["video_count"] == 1
    videos = json.loads(run(env, "video", "list", "--channel", "1", "--json").stdout)
    assert videos[0]["external_id"] == source.uploads[0][0]
    events = json.loads(run(env, "event", "list", "--user", "alice", "--json").stdout)
    assert events[0]["kind"] == "catalog"


@pytest.mark.parametrize(
    "args, message",
    [
        (("channel", "add", "ftp://example.org/feed"), "only http and https"),
        (("channel", "add", "http://127.0.0.2/feed", "--user", "alice"), "no user named"),
        (("event", "list", "--user", "nobody"), "no user named 'nobody'"),
        (("poll",), "name a channel id"),
        (("user", "add", "bad name!"), "a user name is"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(env, args, message: str) -> None:
    run(env, "db", "init")
    run(env, "user", "add", "bob")
    result = run(env, *args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_private_addresses_are_refused_unless_allowed(env) -> None:
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    env = {**env, "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS": "0"}
    for url in ("http://127.0.0.2/feed.xml", "http://[::1]/feed.xml"):
        result = run(env, "channel", "add", url, check=False)
        assert result.returncode == 2 and "loopback" in result.stderr, result.stderr


def test_an_unreachable_database_is_one_line(env) -> None:
    env = {**env, "TUBEPOLLER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = run(env, "channel", "list", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("tubepoller: error: database:")
    assert "Traceback" not in result.stderr


def test_a_malformed_setting_is_one_line(env) -> None:
    result = run({**env, "TUBEPOLLER_RSS_TIMEOUT": "soon"}, "channel", "list", check=False)
    assert result.returncode == 2
    assert "TUBEPOLLER_RSS_TIMEOUT must be a number" in result.stderr


def test_up_polls_on_its_own_and_stops_cleanly_on_ctrl_c(env, feeds: FeedServer) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}")

    up = subprocess.Popen(
        [sys.executable, "-m", "poller.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            channels = json.loads(run(env, "channel", "list", "--json").stdout)
            if channels[0]["last_polled_at"]:
                break
            time.sleep(0.3)
        assert channels[0]["video_count"] == 1, (channels, up.poll() or "running")
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert "stopping" in output


def test_listings_show_each_event_s_video_newest_first_and_only_subscribed_channels(
    env, feeds: FeedServer
) -> None:
    source = feeds.add_channel()
    for n in range(WINDOW + 1):  # the oldest is only in the catalog, which has no dates
        source.upload(published=time.time() - 86400 * (30 - n))
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}")
    run(env, "poll", "1")  # the first poll catalogs quietly
    news = source.upload(title="Fresh upload", published=time.time() - 60)
    assert "channel 1: new=1" in run(env, "poll", "1").stdout

    events = json.loads(run(env, "event", "list", "--json").stdout)
    episode = events[0]
    assert episode["kind"] == "new_episode" and episode["user"] == "alice"
    assert episode["video_id"] is not None and episode["video"]["title"] == "Fresh upload"
    assert episode["video"]["id"] == episode["video_id"]
    table = run(env, "event", "list").stdout
    assert "Fresh upload" in table.splitlines()[1]

    # Newest first by publication, the undated back catalog last: as the API lists them.
    videos = json.loads(run(env, "video", "list", "--user", "alice", "--json").stdout)
    assert videos[0]["external_id"] == news and videos[0]["id"] == episode["video_id"]
    dated = [v["published_at"] for v in videos if v["published_at"]]
    assert dated == sorted(dated, reverse=True)
    assert videos[-1]["published_at"] is None
    assert [v["published_at"] is None for v in videos] == [False] * len(dated) + [True]
    assert len(json.loads(run(env, "video", "list", "--limit", "2", "--json").stdout)) == 2

    out = run(env, "channel", "remove", "1").stdout
    assert "alice unsubscribed from channel 1" in out
    assert json.loads(run(env, "video", "list", "--user", "alice", "--json").stdout) == []
    assert json.loads(run(env, "channel", "list", "--user", "alice", "--json").stdout) == []
    everything = json.loads(run(env, "channel", "list", "--json").stdout)
    assert everything[0]["subscribers"] == 0 and everything[0]["next_poll_at"] is None
    result = run(env, "video", "list", "--user", "alice", "--channel", "1", check=False)
    assert result.returncode == 2 and "channel 1 not found" in result.stderr


def test_db_init_links_old_channels_to_hosts_and_a_paused_host_shows_everywhere(
    env, feeds: FeedServer
) -> None:
    source = feeds.add_channel()
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}")
    database = sqlite3.connect(Path(env["TUBEPOLLER_DATA_DIR"]) / "tubepoller.db")
    with database:
        database.execute("UPDATE channel SET host_id = NULL")  # a row from before hosts
    assert "linked 1 channels to their hosts" in run(env, "db", "init").stdout
    (host,) = json.loads(run(env, "host", "list", "--json").stdout)
    assert host["name"] == feeds.base.split("://", 1)[1] and host["state"] == "open"

    with database:
        database.execute(
            "UPDATE host SET paused_until = ?, pause_reason = 'bot_check: test'",
            (time.time() + 900,),
        )
    database.close()
    assert "channel 1: deferred" in run(env, "poll", "1").stdout
    assert not feeds.hits  # a paused host gets no request
    (host,) = json.loads(run(env, "host", "list", "--json").stdout)
    assert (
        host["paused"] and host["state"] == "paused" and host["pause_reason"] == "bot_check: test"
    )
    (channel,) = json.loads(run(env, "channel", "list", "--json").stdout)
    assert channel["paused"] and channel["paused_until"] and channel["consecutive_failures"] == 0
    assert "paused" in run(env, "host", "list").stdout


def test_poll_all_without_a_broker_keeps_to_the_hosts_budget(env, feeds: FeedServer) -> None:
    env = {**env, "TUBEPOLLER_HOST_RATE": "2"}
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    for _ in range(3):
        source = feeds.add_channel()
        run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}")
    started = time.monotonic()
    out = run(env, "poll", "--all").stdout
    elapsed = time.monotonic() - started
    assert out.count("channel ") == 3 and "polled 3 channels" in out
    # Three feeds and three catalog listings of one host at 2/s: at least 2.5 s.
    assert elapsed >= 2.5


def test_a_feed_recovered_from_broken_xml_is_stored_and_warned_about(
    env, feeds: FeedServer
) -> None:
    def feed(*guids: str) -> bytes:
        items = "".join(f"<item><guid>{g}</guid><title>Episode {g}</title></item>" for g in guids)
        return rss_document("<title>Podcast</title>", items)

    body = {"now": feed("a", "b")}
    feeds.routes["/raw/podcast"] = lambda h: reply(
        h, 200, body["now"], {"Content-Type": "application/rss+xml"}
    )
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    run(env, "channel", "add", f"{feeds.base}/raw/podcast")
    run(env, "poll", "1")

    # The body is cut off in the middle of a third episode's title.
    body["now"] = feed("a", "b", "c")[: feed("a", "b", "c").index(b"Episode c") + 4]
    assert "channel 1: new=1" in run(env, "poll", "1").stdout
    channel = json.loads(run(env, "channel", "list", "--json").stdout)[0]
    assert "not well-formed XML" in (channel["warning"] or ""), channel
    assert channel["consecutive_failures"] == 0 and channel["last_error"] is None
    stored = [v["external_id"] for v in json.loads(run(env, "video", "list", "--json").stdout)]
    assert sorted(stored) == ["a", "b", "c"]  # what was recovered is stored

    body["now"] = feed("a", "b", "c", "d")  # well-formed again: the warning goes
    run(env, "poll", "1")
    assert json.loads(run(env, "channel", "list", "--json").stdout)[0]["warning"] is None
