"""The API as shipped: gunicorn with its asgi workers on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.procs import BIN, ROOT, wait_for


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(
    env: Mapping[str, str],
    log: Path,
    ready: Callable[[httpx.Response], bool] = lambda health: health.status_code == 200,
    workers: int = 1,
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run gunicorn with `env` until the block ends; yield its base URL and process.

    It is ready when its /api/health answer is `ready` (by default: a 200);
    its output goes to `log`. `workers` is its number of worker processes
    (api.gunicorn_conf ships 2); `port` is a free one unless given.
    """
    port = port or free_port()
    env = {**env, "TUBEPOLLER_API_BIND": f"127.0.0.1:{port}"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:api.gunicorn_conf", "-w", str(workers),
             "api.asgi:create_asgi_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text(errors='replace')}")
        try:
            return ready(httpx.get(f"{base}/api/health", timeout=2))
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, "gunicorn to answer /api/health as ready")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def broker_up(health: httpx.Response) -> bool:
    """Ready: /api/health answers 200 and names the broker reachable."""
    return health.status_code == 200 and health.json()["broker"] == "ok"


@contextmanager
def serve_api(
    env: Mapping[str, str], log: Path, port: int | None = None, workers: int = 1
) -> Iterator[str]:
    """Run gunicorn until the block ends, once its broker is up; yield the API's /api URL."""
    with serving(env, log, broker_up, workers, port) as (base, _):
        yield f"{base}/api"
