"""`tubepoller notify …` as users run it, and `tubepoller up` delivering notifications."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.cli import cli_env, run, running_up
from tests.support.feedserver import FeedServer
from tests.support.procs import wait_for


@pytest.fixture
def env(tmp_path: Path, feeds: FeedServer) -> dict[str, str]:
    values = cli_env(tmp_path / "data", feeds.base)
    run(values, "db", "init")
    run(values, "user", "add", "alice")
    return values


def test_targets_are_added_tested_listed_masked_and_removed(env, hooks) -> None:
    url = hooks.url("/hook").replace("json://", "json://me:hunter2@")
    added = run(env, "notify", "add", url, "--events", "downloaded,new_episode").stdout
    port = hooks.server_address[1]
    assert added == (
        f"notification target 1 for alice: json://me:****@127.0.0.1:{port}/hook"
        " (new_episode, downloaded)\n"
    )
    assert run(env, "notify", "test", "1").stdout == "target 1: test message sent\n"
    [got] = hooks.at("/hook")
    assert got.body["title"] == "tubepoller test"

    hooks.always_fail.add("/hook")
    failed = run(env, "notify", "test", "1", check=False)
    assert failed.returncode == 1
    assert failed.stdout.startswith("target 1: test message failed (Failed to send JSON POST")

    table = run(env, "notify", "list").stdout
    assert "hunter2" not in table and "test failed" in table.splitlines()[1]
    [listed] = json.loads(run(env, "notify", "list", "--json").stdout)
    assert [d["status"] for d in listed["deliveries"]] == ["failed", "sent"]
    assert "hunter2" not in json.dumps(listed)

    assert run(env, "notify", "remove", "1").stdout == "removed notification target 1 of alice\n"
    assert run(env, "notify", "list").stdout == "(none)\n"


def test_a_bad_url_or_event_is_one_line_and_nothing_is_stored(env, hooks) -> None:
    bad = run(env, "notify", "add", "nothing://here", "--events", "new_episode", check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("tubepoller: error: 'nothing://here' is not an Apprise URL")
    assert len(bad.stderr.splitlines()) == 1
    unknown = run(env, "notify", "add", hooks.url("/h"), "--events", "new,x", check=False)
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "tubepoller: error: unknown event 'new', 'x'; the events are: new_episode, downloaded,"
        " download_failed, channel_failing, host_paused\n"
    )
    guarded = {**env, "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS": "0"}
    refused = run(guarded, "notify", "add", hooks.url("/h"), "--events", "new_episode", check=False)
    assert refused.returncode == 2 and "127.0.0.1 is a loopback address" in refused.stderr
    assert run(env, "notify", "test", "9", check=False).stderr == (
        "tubepoller: error: no notification target 9\n"
    )
    assert run(env, "notify", "list").stdout == "(none)\n"


@pytest.mark.slow
def test_up_delivers_what_an_inline_poll_queued(env, feeds: FeedServer, hooks) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    run(
        env,
        "channel",
        "add",
        f"https://www.youtube.com/channel/{source.id}",
        "--mode",
        "catalog_only",
    )
    run(env, "notify", "add", hooks.url("/up"), "--events", "new_episode")
    with running_up(env, "--no-api", "--tick-every", "2") as up:
        up.wait_for_line(r"poll channel=1 unchanged backfill=1")
        source.upload("Fresh")
        # This process cannot reach `up`'s workers: its next tick sends the notification.
        out = run(env, "poll", "1").stdout
        assert "1 notifications queued; `tubepoller up` sends them at its next tick" in out
        wait_for(lambda: hooks.at("/up"), 30, "up's notify worker to deliver")
        up.wait_for_line(r"notify delivery=1 sent")
    [got] = hooks.at("/up")
    assert got.body["title"] == "New episode: Fresh"
    assert up.process.returncode == 0, up.output()
