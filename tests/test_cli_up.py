"""`tubepoller up` beside one-shot commands: what it starts, what it logs, what it shows."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import drop_postgres_schema, postgres_schema, require_service
from tests.support.answers import Route
from tests.support.cli import cli_env, run, running_up
from tests.support.feedserver import FeedServer
from tests.support.procs import wait_for
from tests.support.rabbit import Vhost


@pytest.fixture
def env(tmp_path: Path, feeds: FeedServer) -> dict[str, str]:
    values = cli_env(tmp_path / "data", feeds.base)
    run(values, "db", "init")
    return values


def video_status(env: dict[str, str], external_id: str) -> str | None:
    for video in json.loads(run(env, "video", "list", "--json").stdout):
        if video["external_id"] == external_id:
            return video["download_status"]
    return None


@pytest.mark.slow
def test_a_download_wanted_by_the_command_line_starts_within_a_tick(env, feeds: FeedServer) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    run(env, "user", "add", "alice")
    run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}")
    run(env, "channel", "add", "http://127.0.0.1:1/feed.xml")  # nothing listens there
    with running_up(env, "--no-api", "--tick-every", "2") as up:
        up.wait_for_line(r"poll channel=1 unchanged backfill=1")
        # The poll this process runs wants the new upload; only `up` has workers.
        news = source.upload()
        out = run(env, "poll", "1").stdout
        assert "1 downloads marked pending; `tubepoller up` starts them at its next tick" in out
        wait_for(lambda: video_status(env, news) == "complete", 30, "the download to finish")
        up.wait_for_line(r"WARNING poller: poll channel=2 url=http://127\.0\.0\.1:1/feed\.xml")
    assert up.process.returncode == 0, up.output()
    assert "pika" not in up.output()


def test_a_failed_catalog_listing_shows_in_the_table_and_the_api(env, feeds: FeedServer) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    feeds.routes[f"/channel/{source.id}/videos"] = Route(b"down", "text/plain", 503)
    token = run(env, "user", "add", "alice").stdout.splitlines()[-1]
    run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}")
    run(env, "poll", "1")

    header, row = run(env, "channel", "list").stdout.splitlines()
    column = header.index("CATALOG_ERROR")
    assert row[column:].strip(), row  # the reason, where the table shows it
    (listed,) = json.loads(run(env, "channel", "list", "--json").stdout)
    assert listed["catalog_error"] and row[column:].strip() == listed["catalog_error"][:60]

    with running_up(env, "--tick-every", "3600") as up:
        address = up.wait_for_line(r"API on (http://\S+/api)").group(1)
        request = urllib.request.Request(
            f"{address}/channels", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            (channel,) = json.load(answer)["items"]
    assert channel["catalog_error"] == listed["catalog_error"]


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_the_start_line_and_the_commands_show_no_password(env) -> None:
    require_service("RabbitMQ", ("127.0.0.1", 5672))
    url, schema = postgres_schema()
    vhost = Vhost.create()
    secret = {
        **env,
        "TUBEPOLLER_DATABASE_URL": url.replace("postgres@", "postgres:s3cret@", 1),
        "TUBEPOLLER_BROKER_URL": vhost.url,
    }
    try:
        run(secret, "db", "init")
        missing = {**secret, "TUBEPOLLER_DATABASE_URL": url.replace(schema, schema + "x")}
        refused = run(missing, "user", "add", "bob", check=False)
        assert refused.stderr.endswith("; run `tubepoller db init` first\n"), refused.stderr
        assert "s3cret" not in refused.stderr
        run(secret, "user", "add", "alice")
        added = run(secret, "channel", "add", "http://127.0.0.2/feed.xml")
        # A command that sends a message says so, without pika's connection chatter.
        assert added.stdout.splitlines()[-1] == "first poll queued"
        assert added.stderr == ""
        with running_up(secret, "--no-api") as up:
            line = up.wait_for_line(r"tubepoller up: .*").group(0)
    finally:
        vhost.delete()
        drop_postgres_schema(schema)
    assert "database postgresql://postgres:***@127.0.0.1:5432/test" in line
    assert f"RabbitMQ at amqp://guest:***@127.0.0.1:5672/{vhost.name}" in line
    assert "s3cret" not in up.output() and "guest:guest" not in up.output()


@pytest.mark.rabbitmq
def test_a_poll_from_the_command_line_sends_its_downloads_to_rabbitmq(
    env, feeds: FeedServer
) -> None:
    require_service("RabbitMQ", ("127.0.0.1", 5672))
    vhost = Vhost.create()
    try:
        with_broker = {**env, "TUBEPOLLER_BROKER_URL": vhost.url}
        source = feeds.add_channel()
        source.upload(published=time.time() - 86400)
        run(with_broker, "user", "add", "alice")
        run(with_broker, "channel", "add", f"https://www.youtube.com/channel/{source.id}")
        run(with_broker, "poll", "1")  # the first poll catalogs quietly
        source.upload()
        polled = run(with_broker, "poll", "1")
        assert polled.stdout.splitlines() == ["channel 1: new=1 backfill=0", "1 downloads queued"]
        assert vhost.queues()["downloads"] == (1, 0)
    finally:
        vhost.delete()


def test_up_serves_the_api_on_an_ipv6_address(env) -> None:
    with running_up({**env, "TUBEPOLLER_API_BIND": "[::1]:0"}, "--tick-every", "3600") as up:
        address = up.wait_for_line(r"API on (http://\[::1\]:\d+/api)").group(1)
        with urllib.request.urlopen(f"{address}/health", timeout=10) as answer:
            assert answer.status == 200
    assert up.process.returncode == 0, up.output()
