"""Shared fixtures: settings, a database per test, the local feed server, brokers, clusters.

The in-process tests run on Dramatiq's StubBroker: TUBEPOLLER_BROKER_URL is
cleared before `poller.actors` is first imported. Tests that need the real
services (RabbitMQ, PostgreSQL) are marked; under CI=true an unreachable
service fails them instead of skipping them.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.pop("TUBEPOLLER_BROKER_URL", None)
os.environ.pop("TUBEPOLLER_DATABASE_URL", None)
os.environ["TUBEPOLLER_ALLOW_PRIVATE_NETWORKS"] = "1"  # the feed server is on loopback
os.environ.setdefault("TUBEPOLLER_DATA_DIR", tempfile.mkdtemp(prefix="tubepoller-tests-"))

from poller import config  # noqa: E402
from poller.database import init_schema, open_database  # noqa: E402
from poller.models import db  # noqa: E402
from tests.support.feedserver import FeedServer  # noqa: E402
from tests.support.pgschema import create_schema, drop_schema  # noqa: E402
from tests.support.webhook import WebhookReceiver  # noqa: E402

PG_ADMIN_URL = os.environ.get("TUBEPOLLER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
RABBITMQ = ("127.0.0.1", 5672)
DATA = Path(__file__).parent / "data"

# No test may resolve a name or leave loopback, in this process or any it starts.
pytest_plugins = ["tests.support.nonet_plugin"]


def require_service(name: str, address: tuple[str, int]) -> None:
    """Skip when a service is down, but fail under CI=true: CI must run it."""
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as exc:
        message = f"{name} is not reachable on {address[0]}:{address[1]}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Restart the machine's RabbitMQ or PostgreSQL only where that is agreed.

    The fault tests that stop those services would cut off whatever else uses
    them; CI runs them (CI=true), a developer opts in.
    """
    if item.get_closest_marker("restarts_services") and not (
        os.environ.get("CI") == "true" or os.environ.get("TUBEPOLLER_TEST_RESTART_SERVICES") == "1"
    ):
        pytest.skip("stops the local RabbitMQ/PostgreSQL: set TUBEPOLLER_TEST_RESTART_SERVICES=1")


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    """A local YouTube stand-in with no channels yet."""
    server = FeedServer()
    yield server
    server.stop()


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    """A webhook receiver on loopback: where json:// notification targets post."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def settings(tmp_path: Path, feeds: FeedServer) -> Iterator[config.Settings]:
    """Settings for one test: its own data dir, YouTube pointed at `feeds`."""
    loaded = config.load(
        {
            "TUBEPOLLER_DATA_DIR": str(tmp_path),
            "TUBEPOLLER_YOUTUBE_URL": feeds.base,
            "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS": "1",
            "TUBEPOLLER_RSS_TIMEOUT": "5",
            "TUBEPOLLER_YTDLP_TIMEOUT": "30",
            # The loopback feed server is no YouTube: the tests measure the
            # poller, not the host budget (tests of the budget set their own).
            "TUBEPOLLER_HOST_RATE": "1000",
        }
    )
    config.override(loaded)
    yield loaded
    config.override(None)


def postgres_schema() -> tuple[str, str]:
    """Create a fresh schema in the test database; return (url, schema)."""
    require_service("PostgreSQL", ("127.0.0.1", 5432))
    return create_schema(PG_ADMIN_URL, "tp_")


def drop_postgres_schema(schema: str) -> None:
    drop_schema(PG_ADMIN_URL, schema)


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, initialised database; parametrize with "postgres" to add PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tubepoller.db'}"
        schema = None
    else:
        url, schema = postgres_schema()
    open_database(url)
    init_schema()
    yield url
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()
    if schema:
        drop_postgres_schema(schema)


@pytest.fixture
def conn(database_url: str) -> Iterator[None]:
    """An open connection on the test's database for the test's own thread."""
    db.connect(reuse_if_open=True)
    yield
    db.close()


@pytest.fixture(scope="session")
def rabbitmq_vhost():
    """A RabbitMQ vhost of this test session's own, deleted at the end: no leftovers shared."""
    from tests.support.cluster import open_vhost

    require_service("RabbitMQ", RABBITMQ)
    vhost = open_vhost()
    yield vhost
    vhost.delete()


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    """TUBEPOLLER_* settings a suite adds to its workers' environment (none here)."""
    return {}


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest,
    rabbitmq_vhost,
    database_url: str,
    feeds: FeedServer,
    settings,
    tmp_path: Path,
    worker_extra_env: dict[str, str],
):
    """Workers and a sender for one test, on its database and feed server."""
    from tests.support.cluster import running_cluster, worker_env

    env = worker_env(
        broker_url=rabbitmq_vhost.url,
        database_url=database_url,
        youtube_url=feeds.base,
        data_dir=tmp_path / "data",
        extra=worker_extra_env,
    )
    with running_cluster(request, rabbitmq_vhost, env, tmp_path / "logs") as running:
        yield running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Add the workers' logs to the report of a failed test that ran a cluster."""
    report = yield
    running = getattr(item, "tubepoller_cluster", None)
    if running is not None and report.failed:
        report.sections.append((f"worker logs ({report.when})", running.report()))
    return report


@pytest.fixture
def stub_broker(database_url: str):
    """The in-process broker the actors are bound to, emptied."""
    from poller import actors

    actors.broker.flush_all()
    yield actors.broker
    actors.broker.flush_all()


@pytest.fixture
def stub_worker(stub_broker):
    """A worker with two threads on the in-process broker."""
    from dramatiq import Worker

    worker = Worker(stub_broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()
