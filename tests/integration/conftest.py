"""Fixtures of the integration suite: gunicorn serving the API beside the cluster."""

from __future__ import annotations

import pytest

from tests.support.cluster import Cluster
from tests.support.gunicorn import serve_api


@pytest.fixture
def gunicorn_workers() -> int:
    """gunicorn's worker processes; a suite overrides it (the shipped default is 2)."""
    return 1


@pytest.fixture
def gunicorn(cluster: Cluster, tmp_path, gunicorn_workers: int):
    """The API under gunicorn as shipped, on the cluster's vhost and database; its /api URL."""
    with serve_api(cluster.env, tmp_path / "gunicorn.log", workers=gunicorn_workers) as base:
        yield base
