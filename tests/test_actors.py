"""Importing the actors starts nothing; a worker's boot applies the settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dramatiq import Worker

from poller import host_turn

ROOT = Path(__file__).resolve().parents[1]

# Records every socket connection and SQLite database opened, then imports.
WATCH = """
import json, sys
opened = []
def watch(event, args):
    if event in ("socket.connect", "sqlite3.connect"):
        opened.append([event, repr(args)[:200]])
sys.addaudithook(watch)
for name in sys.argv[1:]:
    __import__(name)
import dramatiq.broker
from poller.models import db
broker = dramatiq.broker.global_broker
print(json.dumps({
    "opened": opened,
    "database_bound": db.obj is not None,
    "broker": type(broker).__name__ if broker else None,
}))
"""


def watch_imports(tmp_path: Path, *modules: str) -> tuple[dict, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(
        TUBEPOLLER_BROKER_URL="amqp://guest:guest@127.0.0.1:1/",  # a closed port
        TUBEPOLLER_DATA_DIR=str(tmp_path / "data"),
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", WATCH, *modules],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]), time.monotonic() - started


def test_importing_the_actors_connects_nothing_and_opens_no_database(tmp_path: Path) -> None:
    seen, took = watch_imports(tmp_path, "poller.actors")

    assert seen == {"opened": [], "database_bound": False, "broker": "RabbitmqBroker"}
    assert took < 10  # no connection attempts, no retries (pika would take seconds)
    assert not (tmp_path / "data").exists()  # not even the SQLite file's directory


def test_importing_any_module_connects_nothing(tmp_path: Path) -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in ("poller", "api")
        for path in (ROOT / package).rglob("*.py")
    )

    seen, _ = watch_imports(tmp_path, *modules)

    assert seen["opened"] == [] and seen["database_bound"] is False
    assert not (tmp_path / "data").exists()


def test_a_booting_worker_takes_its_time_limits_from_the_settings(settings, stub_broker) -> None:
    from poller import actors

    worker = Worker(stub_broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        poll_limit = actors.poll_channel.options["time_limit"]
        download_limit = actors.download_video.options["time_limit"]
    finally:
        worker.stop()

    wait = host_turn.MAX_INLINE_WAIT  # for the host's slot (a listing, a download)
    assert poll_limit == (settings.rss_timeout + settings.ytdlp_timeout + wait + 60) * 1000
    assert poll_limit == 160_000
    assert download_limit == (settings.download_timeout + wait + 60) * 1000


def test_the_tick_poll_all_sends_without_the_actors_is_the_tick_actors_own(stub_broker) -> None:
    from poller import actors
    from poller.broker import tick_message

    def fields(message):
        return (message.queue_name, message.actor_name, message.args, message.kwargs)

    for due_only in (True, False):
        built, own = tick_message(due_only=due_only), actors.tick.message(due_only=due_only)
        assert fields(built) == fields(own)
        assert built.options == own.options == {}
