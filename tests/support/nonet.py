"""Keep every test on loopback: refuse name lookups and off-loopback connections.

The test session installs this guard in its own process and, through
``nonet_site/sitecustomize.py`` on PYTHONPATH, in every Python process it
starts (gunicorn, dramatiq workers, the ``tubepoller`` command, yt-dlp). The
guard decides before the real call, so a refused lookup or connection never
sends a packet. Each refusal is written to stderr and to the file named by
``NONET_LOG``; the session's plugin (``nonet_plugin.py``) fails the test during
which a line appeared.

Environment, inherited by every child:

- ``NONET_GUARD=1``: install the guard at interpreter start.
- ``NONET_LOG``: the file refusals are appended to.
- ``NONET_ALLOW``: comma-separated addresses or networks that may also be
  reached (a network namespace a test sets up, say).
- ``NONET_NAMES=stub``: answer every name lookup "not found" without
  recording it, for a server whose input is generated host names (the fuzz
  run); off-loopback connections are still refused and recorded.

Only Python's socket module is guarded: a C library that resolves on its own
(libpq) is not; the tests point it at 127.0.0.1.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import traceback
from collections.abc import Iterable
from typing import Any

LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})

_original: dict[str, Any] = {}
_state: dict[str, Any] = {"log": None, "allow": [], "stub_names": False, "local": LOCAL_NAMES}


class RefusedLookup(socket.gaierror):
    """Raised when a test asks to resolve a name that is not local."""


class RefusedConnect(OSError):
    """Raised when a test connects or sends to an address off loopback."""


def _networks(allow: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item.strip(), strict=False) for item in allow if item.strip()]


def hosts_file_names(text: str) -> frozenset[str]:
    """Return the names an /etc/hosts text maps to loopback addresses.

    The resolver answers those from the file (nsswitch "files" comes first),
    as it does `localhost`; this machine's own name is often one of them, and
    servers bound to 0.0.0.0 look it up (socket.getfqdn).
    """
    names = set()
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and refusal(fields[0]) is None:
            names.update(name.lower() for name in fields[1:])
    return frozenset(names)


def refusal(
    host: object,
    allow: Iterable[str] = (),
    *,
    lookup: bool = False,
    local: Iterable[str] = LOCAL_NAMES,
) -> str | None:
    """Say why ``host`` may not be looked up or reached, or return None.

    Args:
        host: a host as passed to getaddrinfo or in a socket address.
        allow: extra addresses or networks that are allowed.
        local: the names that resolve to loopback without a query.
        lookup: judge a name lookup, not a connection: any IP literal then
            passes, as resolving a literal sends nothing (the connection to it
            is judged when it is made).

    Returns:
        None for a loopback or unspecified literal, ``localhost``, an allowed
        address, or no host at all (a bind to every interface); otherwise a
        short reason.
    """
    if host is None or host in ("", b""):
        return None
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return f"{host!r} is not a host name"
    if host.lower() in local or host.lower() in LOCAL_NAMES:
        return None
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return "a name: resolving it would query DNS"
    if lookup:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return None
    if any(ip in network for network in _networks(allow)):
        return None
    return "not on loopback"


def installed() -> bool:
    """Return True when this process's socket module is guarded."""
    return getattr(socket.getaddrinfo, "_nonet", False) is True


def install(log: str | None = None, allow: Iterable[str] = (), stub_names: bool = False) -> None:
    """Guard this process's socket module; a second call only updates the options.

    Args:
        log: the file each refusal is appended to (and always stderr).
        allow: extra addresses or networks that may be reached.
        stub_names: answer non-local names "not found" without recording them.
    """
    try:
        with open("/etc/hosts") as hosts:
            local = LOCAL_NAMES | hosts_file_names(hosts.read())
    except OSError:
        local = LOCAL_NAMES
    options = {"log": log, "allow": list(allow), "stub_names": stub_names, "local": local}
    if installed():  # perhaps by another copy of this module (sitecustomize's)
        socket.getaddrinfo._nonet_state.update(options)  # type: ignore[attr-defined]
        return
    _state.update(options)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        _original[name] = getattr(socket, name)
    for name in ("connect", "connect_ex", "sendto"):
        _original[name] = getattr(socket.socket, name)
    socket.getaddrinfo = _guard_lookup(_original["getaddrinfo"])
    socket.gethostbyname = _guard_lookup(_original["gethostbyname"])
    socket.gethostbyname_ex = _guard_lookup(_original["gethostbyname_ex"])
    # A reverse lookup of any address but loopback is a PTR query.
    socket.gethostbyaddr = _guard_lookup(_original["gethostbyaddr"], literals=False)
    socket.socket.connect = _guard_connect(_original["connect"], 0)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guard_connect(_original["connect_ex"], 0)  # type: ignore[method-assign]
    socket.socket.sendto = _guard_connect(_original["sendto"], -1)  # type: ignore[method-assign]


def install_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Install the guard as the NONET_* variables say (see the module docstring)."""
    if environ.get("NONET_GUARD") != "1":
        return
    install(
        log=environ.get("NONET_LOG") or None,
        allow=environ.get("NONET_ALLOW", "").split(","),
        stub_names=environ.get("NONET_NAMES") == "stub",
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}…({len(text)} chars)"


def _record(what: str) -> None:
    """Write one refusal to stderr and the log, with where it came from."""
    stack = "".join(traceback.format_stack(limit=6)[:-2]).rstrip().replace("\n", "\n    ")
    line = f"nonet: refused {what} in pid {os.getpid()} ({' '.join(sys.argv[:3])})"
    try:
        sys.stderr.write(f"{line}\n    {stack}\n")
    except (OSError, ValueError):
        pass
    if _state["log"]:
        # One write per record with O_APPEND: lines from many processes do not interleave.
        fd = os.open(_state["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{line}\n    {stack}\n".encode(errors="replace"))
        finally:
            os.close(fd)


def _guard_lookup(real: Any, literals: bool = True) -> Any:
    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        reason = refusal(host, _state["allow"], lookup=literals, local=_state["local"])
        if reason is not None:
            # The stub answers a generated name the way an offline resolver would.
            if not _state["stub_names"]:
                _record(f"{real.__name__}({_short(host)}): {reason}")
            raise RefusedLookup(socket.EAI_NONAME, f"nonet: {reason}")
        return real(host, *args, **kwargs)

    guarded._nonet = True  # type: ignore[attr-defined]
    guarded._nonet_state = _state  # type: ignore[attr-defined]
    guarded.__name__ = real.__name__
    return guarded


def _guard_connect(real: Any, address_at: int) -> Any:
    def guarded(sock: socket.socket, *args: Any) -> Any:
        address = args[address_at] if args else None
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            reason = refusal(address[0], _state["allow"], local=_state["local"])
            if reason is not None:
                _record(f"{real.__name__}({_short(address)}): {reason}")
                raise RefusedConnect(errno.ENETUNREACH, f"nonet: {reason}")
        return real(sock, *args)

    guarded._nonet = True  # type: ignore[attr-defined]
    guarded.__name__ = real.__name__
    return guarded
