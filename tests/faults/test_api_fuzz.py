"""schemathesis, driven by the OpenAPI document, against a real gunicorn: no 5xx anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from poller.models import Channel, Subscription
from tests.faults.conftest import LiveAPI
from tests.support.procs import BIN

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.usefixtures("conn")]

MAX_EXAMPLES = 10  # per operation in the fuzzing phase; the run is capped at --max-time

# A valid ?wait=N holds a request for N seconds (nothing polls behind this server): keep
# the value's validity but wait 1 s, so the run's time goes into cases, not into waiting.
HOOKS = """
import schemathesis

@schemathesis.hook
def map_query(context, query):
    wait = (query or {}).get("wait")
    try:
        seconds = float(wait)
    except (TypeError, ValueError):
        return query
    if 1 < seconds <= 60:
        query["wait"] = 1
    return query
"""


@pytest.fixture(autouse=True)
def offline_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the server's resolver answer every generated host name "not found", sending nothing.

    Subscribing checks the URL's host, and the generated URLs name hosts like
    `0.com`: the test session's network guard (tests/support/nonet.py) stubs
    the lookups of the gunicorn started after this, still refusing any
    connection off loopback.
    """
    monkeypatch.setenv("NONET_NAMES", "stub")


def test_schemathesis_finds_no_server_error(live_api: LiveAPI, tmp_path) -> None:
    st = BIN / "st"
    if not st.exists() and shutil.which("st") is None:
        pytest.fail("schemathesis is not installed: pip install '.[test]'")
    bob_channel = Channel.get_by_id(live_api.channels["bob"]).__data__
    command = [
        str(st if st.exists() else shutil.which("st")), "run",
        f"{live_api.base}/api/openapi.json",
        "--checks", "not_a_server_error",
        "--header", f"Authorization: Bearer {live_api.tokens['alice']}",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "5",
        "--workers", "1",  # hypothesis is not thread-safe when it describes lambdas
        "--request-timeout", "70",  # ?wait may hold a request for up to 60 s
        "--phases", "coverage,fuzzing",  # the stateful phase adds ~90 s of ?wait=60 calls
        "--max-time", "75",  # the whole run: coverage ~60 s, then fuzzing until this
        "--no-color",
        "--suppress-health-check", "all",
    ]  # fmt: skip
    (tmp_path / "st_hooks.py").write_text(HOOKS)
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "st_hooks", "PYTHONPATH": path}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, cwd=tmp_path, env=env, check=False
    )
    report = f"$ {' '.join(command)}\n{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    assert done.returncode == 0, report
    assert "generated" in done.stdout and "failed" not in done.stdout.split("Test cases:")[-1]
    # Alice's fuzzing never reached bob's channel.
    assert Channel.get_by_id(live_api.channels["bob"]).__data__ == bob_channel
    assert Subscription.select().where(Subscription.channel == live_api.channels["bob"]).count()
    print(done.stdout[-3000:])
