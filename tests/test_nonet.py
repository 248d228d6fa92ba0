"""The test session's network guard: refusals happen before anything is sent.

Every check first proves the guard is installed in the process that makes the
call, so a missing guard fails the test instead of sending a DNS query.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import nonet
from tests.support.nonet_plugin import Refusals

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "host", [None, "", "localhost", "127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1", "0.0.0.0"]
)
def test_loopback_hosts_are_allowed(host: str | None) -> None:
    assert nonet.refusal(host) is None


@pytest.mark.parametrize(
    "host",
    ["example.invalid", "0.com", "localhost.example.org", "192.0.2.1", "10.0.0.1", "2001:db8::1"],
)
def test_names_and_other_addresses_are_refused(host: str) -> None:
    assert nonet.refusal(host) is not None


@pytest.mark.parametrize("host", ["192.0.2.1", "2001:db8::1"])
def test_a_literal_may_be_looked_up_but_not_reached(host: str) -> None:
    assert nonet.refusal(host, lookup=True) is None  # resolving a literal sends nothing
    assert nonet.refusal(host) is not None
    assert nonet.refusal("example.invalid", lookup=True) is not None


def test_names_the_hosts_file_maps_to_loopback_are_local() -> None:
    local = nonet.hosts_file_names("127.0.0.1 localhost\n127.0.1.1 vm vm.lan # me\n10.1.1.1 nas\n")
    assert local == {"localhost", "vm", "vm.lan"}
    assert nonet.refusal("vm", local=local) is None
    assert nonet.refusal("nas", local=local) is not None


def test_an_allowlisted_network_is_allowed() -> None:
    assert nonet.refusal("10.200.1.2", ["10.200.1.0/24"]) is None
    assert nonet.refusal("10.200.2.2", ["10.200.1.0/24"]) is not None


def test_a_lookup_in_the_test_process_is_refused_and_recorded(
    nonet_refusals: Refusals,
) -> None:
    assert nonet.installed(), "the guard is not installed: nothing below may run"
    for lookup in (
        socket.getaddrinfo,
        socket.gethostbyname,
        socket.gethostbyname_ex,
        socket.gethostbyaddr,
    ):
        with pytest.raises(socket.gaierror, match="nonet"):
            lookup("example.invalid", *((80,) if lookup is socket.getaddrinfo else ()))
    with pytest.raises(socket.gaierror, match="nonet"):
        socket.gethostbyaddr("192.0.2.1")  # a PTR query
    assert nonet_refusals.take().count("nonet: refused") == 5


def test_a_connect_off_loopback_is_refused_before_the_real_call(
    nonet_refusals: Refusals,
) -> None:
    assert nonet.installed(), "the guard is not installed: nothing below may run"
    assert getattr(socket.socket.connect, "_nonet", False)
    with socket.socket() as sock:
        with pytest.raises(OSError, match="nonet"):
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: refused before any packet
        with pytest.raises(OSError, match="nonet"):
            sock.connect(("example.invalid", 80))  # C would resolve the name itself
    with socket.socket(type=socket.SOCK_DGRAM) as udp:
        assert getattr(socket.socket.sendto, "_nonet", False)
        with pytest.raises(OSError, match="nonet"):
            udp.sendto(b"x", ("192.0.2.1", 53))
    assert nonet_refusals.take().count("nonet: refused") == 3


def test_loopback_still_works_under_the_guard() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(("localhost", server.getsockname()[1]), timeout=5):
            pass


GUARDED_CHILD = """
import socket, sys
assert "_nonet" in sys.modules and sys.modules["_nonet"].installed(), "no guard in the child"
try:
    socket.getaddrinfo("example.invalid", 80)
except socket.gaierror as exc:
    print("refused:", exc)
"""


def test_a_child_process_is_guarded_and_its_lookup_recorded(nonet_refusals: Refusals) -> None:
    done = subprocess.run(
        [sys.executable, "-c", GUARDED_CHILD], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "refused: " in done.stdout and "nonet" in done.stdout
    assert "example.invalid" in done.stderr
    assert "example.invalid" in nonet_refusals.take()


def test_stubbed_names_are_not_found_without_a_record(
    nonet_refusals: Refusals, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NONET_NAMES", "stub")
    done = subprocess.run(
        [sys.executable, "-c", GUARDED_CHILD], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "refused: " in done.stdout
    assert nonet_refusals.take() == ""


def test_the_session_fails_the_test_whose_child_left_loopback(tmp_path: Path) -> None:
    # A test that swallows the error passes by itself: the plugin must fail it anyway.
    (tmp_path / "test_leaks.py").write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys

            def test_leaks():
                subprocess.run([sys.executable, "-c", {GUARDED_CHILD!r}], check=True)

            def test_stays_home():
                pass
            """
        )
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.support.nonet_plugin",
         "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
         "--rootdir", str(tmp_path), str(tmp_path / "test_leaks.py")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "FAILED" in done.stdout and "test_leaks" in done.stdout
    assert "example.invalid" in done.stdout
