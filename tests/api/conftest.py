"""Fixtures of the API tests: an app on the test's SQLite file, callers, a feed, a worker.

The root conftest gives each test its settings (`config.override`), a fresh
database (`database_url`), the in-process broker and the local feed server.
The feeds here are plain RSS served by that server under /raw/, so polls
never start yt-dlp.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
from dramatiq import Worker

from api.app import create_app
from poller.broker import POLL_QUEUE
from tests.api.support import Caller, Feed
from tests.support.feedserver import FeedServer


@pytest.fixture
def app(settings, database_url: str) -> falcon.App:
    assert settings.database_url == database_url  # both live in the test's tmp_path
    return create_app(settings)


@pytest.fixture
def client(app: falcon.App) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(app)


@pytest.fixture
def alice(client: falcon.testing.TestClient) -> Caller:
    return Caller(client, "alice")


@pytest.fixture
def bob(client: falcon.testing.TestClient) -> Caller:
    return Caller(client, "bob")


@pytest.fixture
def admin(client: falcon.testing.TestClient) -> Caller:
    return Caller(client, "root", admin=True)


@pytest.fixture
def feed(feeds: FeedServer) -> Feed:
    """A feed with three episodes from the last three days."""
    podcast = Feed(feeds, "podcast")
    for n in range(3):
        podcast.add(f"ep{n}", published=time.time() - 86400 * (3 - n))
    return podcast


@pytest.fixture
def broker(app: falcon.App, stub_broker: Any) -> Any:
    """The in-process broker the app's queues send to."""
    return stub_broker


@pytest.fixture
def poll_worker(broker: Any) -> Iterator[Worker]:
    """A worker on the poll queue only: downloads would start yt-dlp."""
    worker = Worker(broker, queues={POLL_QUEUE}, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()
