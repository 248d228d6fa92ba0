"""Fixtures of the integration suite: gunicorn serving the API beside the cluster."""

from __future__ import annotations

import signal
import socket
import subprocess

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.procs import BIN, ROOT, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_workers() -> int:
    """gunicorn's worker processes; a suite overrides it (the shipped default is 2)."""
    return 1


@pytest.fixture
def gunicorn(cluster: Cluster, tmp_path, gunicorn_workers: int):
    """The API under gunicorn as shipped (api.gunicorn_conf) on the cluster's vhost; its URL."""
    port = free_port()
    env = {**cluster.env, "TUBEPOLLER_API_BIND": f"127.0.0.1:{port}"}
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:api.gunicorn_conf", "-w", str(gunicorn_workers),
             "api.asgi:create_asgi_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            answer = httpx.get(f"{base}/health", timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and answer.json()["broker"] == "ok"

    try:
        wait_for(healthy, 30, "gunicorn to answer /api/health with the broker up")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
