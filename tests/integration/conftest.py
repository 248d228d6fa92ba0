"""Fixtures of the integration tests: a RabbitMQ vhost per session, workers per test.

Every test gets a `cluster`: an environment pointing real `dramatiq` worker
processes at the session's vhost, the test's database and the test's feed
server; a sender for messages; and a teardown that stops every worker
(SIGTERM, then SIGKILL of the process group) and deletes the queues. When a
test fails, the workers' logs are added to its report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from poller.bench.feedserver import FeedServer
from tests.integration.procs import Cluster, Vhost, running_cluster, worker_env


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest,
    rabbitmq_vhost: Vhost,
    database_url: str,
    feeds: FeedServer,
    settings,
    tmp_path: Path,
) -> Iterator[Cluster]:
    """Workers and a sender for one test, on its database and feed server."""
    env = worker_env(
        broker_url=rabbitmq_vhost.url,
        database_url=database_url,
        youtube_url=feeds.base,
        data_dir=tmp_path / "data",
    )
    with running_cluster(request, rabbitmq_vhost, env, tmp_path / "logs") as running:
        yield running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    running = getattr(item, "tubepoller_cluster", None)
    if running is not None and report.failed:
        report.sections.append((f"worker logs ({report.when})", running.report()))
    return report
