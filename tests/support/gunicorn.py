"""The API under a real gunicorn, as the integration tests run it."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from .procs import BIN, ROOT, wait_for


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_api(env: Mapping[str, str], log: Path, port: int | None = None) -> Iterator[str]:
    """Run gunicorn with `env` on `port` until the block ends; yield the API's base URL.

    Yields once /api/health answers 200 with the broker up.
    """
    port = port or free_port()
    env = {**env, "TUBEPOLLER_API_BIND": f"127.0.0.1:{port}"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:api.gunicorn_conf", "-w", "1",
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
