"""pytest plugin: fail every test during which any process left loopback.

At session start it guards this process (``nonet.install``) and sets the
NONET_* variables and PYTHONPATH in ``os.environ``, so every child the tests
start inherits the guard through ``nonet_site/sitecustomize.py``. After each
phase of each test it reads the refusals appended to the session's log since
the last phase; any makes that phase fail, naming what was refused and where.
A test that means to trip the guard takes ``nonet_refusals`` and reads them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import nonet

SITE = Path(__file__).resolve().parent / "nonet_site"


class Refusals:
    """The session's refusal log, read from where the last reader stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def take(self) -> str:
        """Return the refusals logged since the last call, and consume them."""
        with self.path.open("rb") as log:
            log.seek(self.offset)
            new = log.read()
        self.offset += len(new)
        return new.decode(errors="replace")


_refusals: Refusals | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _refusals
    fd, name = tempfile.mkstemp(prefix="nonet-", suffix=".log")
    os.close(fd)
    _refusals = Refusals(Path(name))
    os.environ["NONET_GUARD"] = "1"
    os.environ["NONET_LOG"] = name
    os.environ.pop("NONET_NAMES", None)
    path = os.environ.get("PYTHONPATH", "")
    if str(SITE) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITE), path) if p)
    nonet.install_from_env()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    found = _refusals.take() if _refusals is not None else ""
    if found:
        message = f"the network guard refused (no test may leave loopback):\n{found}"
        if report.passed:
            report.outcome = "failed"
            report.longrepr = message
        else:
            report.sections.append(("network guard", message))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    found = _refusals.take() if _refusals is not None else ""
    if found:  # a child refused after the last test's teardown
        print(f"\nthe network guard refused after the last test:\n{found}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def nonet_refusals() -> Refusals:
    """The session's refusal log, for a test that trips the guard on purpose."""
    assert _refusals is not None
    _refusals.take()  # what came before belongs to the setup
    return _refusals
