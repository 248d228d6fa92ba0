"""`tubepoller` managing things: a channel's history, pause, mode; users and tokens; downloads."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.cli import cli_env, run
from tests.support.feedserver import FeedServer


@pytest.fixture
def env(tmp_path: Path, feeds: FeedServer) -> dict[str, str]:
    environment = cli_env(tmp_path / "data", feeds.base)
    run(environment, "db", "init")
    return environment


def subscribe(env: dict[str, str], feeds: FeedServer, *users: str) -> int:
    """Subscribe each user to one new channel with one upload; return its id."""
    source = feeds.add_channel()
    source.upload("First upload", published=time.time() - 86400)
    for user in users:
        out = run(env, "channel", "add", feeds.feed_url(source.number), "--user", user).stdout
        assert "subscribed to channel" in out
    return int(out.split("channel ", 1)[1].split()[0])


def test_channel_show_has_the_last_polls_with_status_duration_and_error(
    env, feeds: FeedServer
) -> None:
    run(env, "user", "add", "alice")
    channel_id = subscribe(env, feeds, "alice")
    run(env, "poll", str(channel_id))
    feeds.channel(channel_id - 1).status = 404
    failed = run(env, "poll", str(channel_id), check=False)
    assert failed.returncode == 1 and "HTTP 404" in failed.stdout

    shown = json.loads(run(env, "channel", "show", str(channel_id), "--json").stdout)

    first, second = shown["polls"][1], shown["polls"][0]  # newest first
    assert (first["seq"], first["outcome"], first["http_status"]) == (1, "unchanged", 200)
    assert first["backfill"] == 1 and first["error"] is None and first["duration_ms"] >= 0
    assert (second["seq"], second["outcome"], second["http_status"]) == (2, "failed", 404)
    assert "HTTP 404" in second["error"]
    assert shown["health"] == "failing" and shown["consecutive_failures"] == 1
    assert shown["url"] == feeds.feed_url(channel_id - 1)
    assert shown["host"] == feeds.base.split("//", 1)[1]
    assert [s["user"] for s in shown["subscriptions"]] == ["alice"]
    assert shown["video_count"] == 1 and shown["next_poll_at"] is not None

    text = run(env, "channel", "show", str(channel_id)).stdout
    assert "last polls, newest first (2):" in text
    assert "health" in text and "failing" in text and "404" in text


def test_a_channel_is_not_polled_while_every_subscriber_paused_it(env, feeds: FeedServer) -> None:
    run(env, "user", "add", "alice")
    run(env, "user", "add", "bob")
    channel_id = subscribe(env, feeds, "alice", "bob")

    out = run(env, "channel", "pause", str(channel_id), "--user", "alice").stdout
    assert "still polled for its other subscribers" in out
    assert "polled 1 channels" in run(env, "poll", "--all").stdout
    out = run(env, "channel", "pause", str(channel_id), "--user", "bob").stdout
    assert "not polled until a subscriber resumes it" in out
    assert "polled 0 channels" in run(env, "poll", "--all").stdout
    shown = json.loads(run(env, "channel", "show", str(channel_id), "--json").stdout)
    assert shown["health"] == "paused" and shown["next_poll_at"] is None
    assert [s["paused"] for s in shown["subscriptions"]] == [True, True]

    out = run(env, "channel", "resume", str(channel_id), "--user", "bob").stdout
    assert "resumed; next poll" in out
    assert "polled 1 channels" in run(env, "poll", "--all", "--due-only").stdout
    polls = json.loads(run(env, "channel", "show", str(channel_id), "--json").stdout)["polls"]
    assert len(polls) == 2  # one before the pause, one after the resume


def test_mode_and_download_from_the_command_line(env, feeds: FeedServer) -> None:
    run(env, "user", "add", "alice")
    channel_id = subscribe(env, feeds, "alice")
    run(env, "poll", str(channel_id))
    changed = run(env, "channel", "mode", str(channel_id), "catalog_only").stdout
    assert "mode catalog_only" in changed
    mine = json.loads(run(env, "channel", "list", "--user", "alice", "--json").stdout)
    assert mine[0]["mode"] == "catalog_only"
    (video,) = json.loads(run(env, "video", "list", "--json").stdout)

    out = run(env, "video", "download", str(video["id"])).stdout
    assert f"video {video['id']} (First upload): 1 downloads marked pending" in out
    again = run(env, "video", "download", str(video["id"])).stdout
    assert "pending already" in again
    (listed,) = json.loads(run(env, "video", "list", "--status", "pending", "--json").stdout)
    assert listed["id"] == video["id"]


def test_users_are_listed_removed_and_get_new_tokens(env, feeds: FeedServer) -> None:
    run(env, "user", "add", "root", "--admin")
    run(env, "user", "add", "alice")
    channel_id = subscribe(env, feeds, "alice")

    users = json.loads(run(env, "user", "list", "--json").stdout)
    assert [(u["name"], u["admin"], u["subscriptions"]) for u in users] == [
        ("alice", False, 1),
        ("root", True, 0),
    ]
    assert "NAME" in run(env, "user", "list").stdout
    rotated = run(env, "user", "token", "alice", "--rotate").stdout.splitlines()
    assert "the old one no longer works" in rotated[0] and len(rotated[1]) >= 40

    assert "user alice removed" in run(env, "user", "remove", "alice").stdout
    assert [u["name"] for u in json.loads(run(env, "user", "list", "--json").stdout)] == ["root"]
    # Nobody follows the channel now: it is no longer polled.
    shown = json.loads(run(env, "channel", "show", str(channel_id), "--json").stdout)
    assert shown["health"] == "unsubscribed" and shown["subscriptions"] == []


@pytest.mark.parametrize(
    "args, message",
    [
        (("user", "remove", "nobody"), "no user named 'nobody'"),
        (("user", "token", "alice"), "--rotate"),
        (("user", "token", "nobody", "--rotate"), "no user named 'nobody'"),
        (("channel", "show", "99"), "channel 99 not found"),
        (("channel", "pause", "99"), "channel 99 not found"),
        (("channel", "resume", "99", "--user", "nobody"), "no user named 'nobody'"),
        (("channel", "mode", "99", "catalog_only"), "channel 99 not found"),
        (("video", "download", "99"), "video 99 not found"),
        (("user", "add", "alice"), "user 'alice' already exists"),
    ],
)
def test_a_bad_management_command_is_one_line_and_exit_2(env, args, message: str) -> None:
    run(env, "user", "add", "alice")
    result = run(env, *args, check=False)
    assert result.returncode == 2, result
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_subscribing_again_wakes_a_paused_channel_only_for_a_new_subscriber(
    env, feeds: FeedServer
) -> None:
    run(env, "user", "add", "alice")
    run(env, "user", "add", "bob")
    channel_id = subscribe(env, feeds, "alice")
    url = feeds.feed_url(channel_id - 1)
    run(env, "channel", "pause", str(channel_id), "--user", "alice")

    run(env, "channel", "add", url, "--user", "alice")  # already subscribed, and paused
    assert "polled 0 channels" in run(env, "poll", "--all").stdout
    run(env, "channel", "add", url, "--user", "bob")
    shown = json.loads(run(env, "channel", "show", str(channel_id), "--json").stdout)
    assert shown["health"] == "ok" and not shown["polls_paused"]
    assert "polled 1 channels" in run(env, "poll", "--all", "--due-only").stdout
