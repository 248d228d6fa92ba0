"""What the `tubepoller` command says when something is wrong: one line, the right exit."""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path

import pytest

from poller.cli import build_parser
from tests.conftest import drop_postgres_schema, postgres_schema
from tests.support.cli import cli_env, run, run_into
from tests.support.feedserver import FeedServer

PASSWORD = "s3cret"


@pytest.fixture
def env(tmp_path: Path, feeds: FeedServer) -> dict[str, str]:
    values = cli_env(tmp_path / "data", feeds.base)
    run(values, "db", "init")
    run(values, "user", "add", "alice")
    return values


def one_error_line(result, message: str) -> None:
    """Assert a non-zero exit and a stderr of one line that says `message`."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tubepoller: error: "), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.rabbitmq
@pytest.mark.parametrize(
    "broker",
    [
        "amqp://guest:guest@127.0.0.1:1/",  # nothing listens
        "amqp://guest:guest@127.0.0.1:5672/tp_no_such_vhost",  # RabbitMQ refuses the vhost
    ],
)
def test_an_unreachable_broker_after_subscribing_says_the_subscription_is_saved(
    env, broker: str
) -> None:
    with_broker = {**env, "TUBEPOLLER_BROKER_URL": broker}
    result = run(with_broker, "channel", "add", "http://127.0.0.2/f", check=False)
    one_error_line(result, "subscription to channel 1 saved")
    assert "the next tick polls it" in result.stderr
    assert "guest:guest" not in result.stderr and "RabbitMQ at amqp://guest:***@" in result.stderr
    assert "alice subscribed to channel 1" in result.stdout
    (channel,) = json.loads(run(env, "channel", "list", "--json").stdout)
    assert channel["url"] == "http://127.0.0.2/f" and channel["next_poll_at"] is not None


@pytest.mark.parametrize(
    "bind, message",
    [
        ("localhost:notaport", "TUBEPOLLER_API_BIND must end in a port number"),
        ("127.0.0.1:70000", "TUBEPOLLER_API_BIND must end in a port number 0-65535"),
        ("::1:8080", "TUBEPOLLER_API_BIND must write an IPv6 host in brackets"),
        ("8080", "TUBEPOLLER_API_BIND must be host:port"),
    ],
)
def test_a_malformed_api_bind_is_one_line(env, bind: str, message: str) -> None:
    one_error_line(run({**env, "TUBEPOLLER_API_BIND": bind}, "up", check=False), message)


def test_a_busy_api_port_is_one_line(env) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        result = run({**env, "TUBEPOLLER_API_BIND": bind}, "up", check=False)
    one_error_line(result, f"cannot serve the API on {bind} (TUBEPOLLER_API_BIND): the port is")


def test_an_unusable_media_dir_is_one_line(env, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    media = tmp_path / "a-file" / "media"
    result = run({**env, "TUBEPOLLER_MEDIA_DIR": str(media)}, "up", "--no-api", check=False)
    one_error_line(result, f"TUBEPOLLER_MEDIA_DIR '{media}': cannot create it")


def test_a_closed_pipe_ends_a_listing_quietly(env) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # like `| head` once it has read its lines
    try:
        result = run_into(writer, env, "channel", "list")
    finally:
        os.close(writer)
    assert result.stderr == ""


def test_polling_a_missing_channel_is_an_error(env) -> None:
    one_error_line(run(env, "poll", "999", check=False), "no channel 999")


def test_poll_all_counts_its_failures_and_exits_non_zero(env, feeds: FeedServer) -> None:
    source = feeds.add_channel()
    source.upload()
    run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}")
    run(env, "channel", "add", "http://127.0.0.1:1/feed.xml")  # nothing listens there
    result = run(env, "poll", "--all", check=False)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "polled 2 channels, 1 failed"
    assert "WARNING poller.embedded: poll channel=2 url=http://127.0.0.1:1/feed.xml failed" in (
        result.stderr
    )
    polled_one = run(env, "poll", "2", check=False)
    assert polled_one.returncode == 1
    assert "WARNING poller: poll channel=2 url=http://127.0.0.1:1/feed.xml failed" in (
        polled_one.stderr
    )


def test_read_only_commands_create_no_database_and_name_the_one_missing(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = cli_env(tmp_path, "http://127.0.0.1:1")
    del env["TUBEPOLLER_DATA_DIR"]  # the default, ./tubepoller-data, from another directory
    for args in (("channel", "list"), ("video", "list"), ("event", "list"), ("poll", "1")):
        result = run(env, *args, check=False, cwd=elsewhere)
        one_error_line(
            result,
            "no database at sqlite:///tubepoller-data/tubepoller.db: run `tubepoller db init`",
        )
    assert list(elsewhere.iterdir()) == []


@pytest.mark.postgres
def test_passwords_never_reach_the_terminal(env) -> None:
    url, schema = postgres_schema()
    secret_url = url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    try:
        with_pg = {**env, "TUBEPOLLER_DATABASE_URL": secret_url}
        out = run(with_pg, "db", "init").stdout
        assert out.startswith("schema ready at postgresql://postgres:***@127.0.0.1")
        assert PASSWORD not in out
    finally:
        drop_postgres_schema(schema)
    unreachable = f"postgresql://nobody:{PASSWORD}@127.0.0.1:1/none"
    refused = run({**env, "TUBEPOLLER_DATABASE_URL": unreachable}, "channel", "list", check=False)
    one_error_line(refused, "(at postgresql://nobody:***@127.0.0.1:1/none)")
    malformed = {**env, "TUBEPOLLER_BROKER_URL": f"http://u:{PASSWORD}@h/"}
    bad_setting = run(malformed, "poll", "1", check=False)
    one_error_line(bad_setting, "TUBEPOLLER_BROKER_URL must be amqp://…, got 'http://u:***@h/'")
    assert PASSWORD not in refused.stderr + bad_setting.stderr


def test_every_option_and_argument_has_a_help_text() -> None:
    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "tubepoller")
    assert missing == []
