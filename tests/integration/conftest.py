"""Fixtures of the integration suite: gunicorn serving the API beside the cluster."""

from __future__ import annotations

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.gunicorn import serving


@pytest.fixture
def gunicorn_workers() -> int:
    """gunicorn's worker processes; a suite overrides it (the shipped default is 2)."""
    return 1


@pytest.fixture
def gunicorn(cluster: Cluster, tmp_path, gunicorn_workers: int):
    """The API under gunicorn as shipped, on the cluster's vhost and database; its /api URL."""

    def broker_up(health: httpx.Response) -> bool:
        return health.status_code == 200 and health.json()["broker"] == "ok"

    with serving(cluster.env, tmp_path / "gunicorn.log", broker_up, gunicorn_workers) as (base, _):
        yield f"{base}/api"
