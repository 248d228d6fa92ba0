"""Keep polls off loopback, private and other non-public addresses.

A self-hosted poller fetches URLs its users type in. Without this guard a
subscription to ``http://127.0.0.1:5672/`` or ``http://169.254.169.254/`` would
make the server probe its own network for them (SSRF).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse

from .errors import BlockedAddress, TransientError, UnusableURL

ALLOW_HINT = "set TUBEPOLLER_ALLOW_PRIVATE_NETWORKS=1 to allow it"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal(ip: IPAddress) -> str | None:
    """Name the kind of a non-public address, or return None for a public one.

    Args:
        ip: the address to judge.

    Returns:
        ``"a loopback address"`` and the like, or None when ``ip`` is public.
    """
    # An IPv6 address can smuggle an IPv4 one. A mapped one (::ffff:127.0.0.1)
    # is that IPv4 address to the kernel, so judge it alone; 6to4 and Teredo
    # may be routed to the embedded address, so judge that as well.
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return refusal(ip.ipv4_mapped)
        for inner in (ip.sixtofour, ip.teredo and ip.teredo[1]):
            kind = None if inner is None else refusal(inner)
            if kind is not None:
                return kind
    # Order matters: 127.0.0.1 is also "private", and the most specific name
    # tells the user best what they hit.
    for flag, kind in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(ip, flag):
            return kind
    # is_global is the catch-all (100.64.0.0/10 is neither private nor global);
    # multicast is checked above because Python calls 224.0.0.0/4 global.
    if not ip.is_global:
        return "a non-public address"
    return None


def check_host(host: str, port: int, allow_private: bool) -> list[str]:
    """Resolve ``host`` and refuse it when any address is not public.

    Every address is checked, not only the first: the caller may connect to
    any of them, and a name that mixes public and private ones is suspect.

    Args:
        host: a host name or IP literal, without brackets.
        port: the port that will be connected to.
        allow_private: skip the check (TUBEPOLLER_ALLOW_PRIVATE_NETWORKS).

    Returns:
        The resolved addresses as strings, in resolver order, no duplicates.

    Raises:
        TransientError: the name does not resolve (DNS may be down briefly).
        BlockedAddress: an address is not public and ``allow_private`` is False.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientError(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            kind = refusal(ipaddress.ip_address(address))
            if kind is not None:
                if address == host:
                    raise BlockedAddress(f"{host} is {kind}; {ALLOW_HINT}")
                raise BlockedAddress(f"{host} resolves to {address}, {kind}; {ALLOW_HINT}")
    return addresses


def split_url(url: str) -> urllib.parse.SplitResult:
    """Return the parts of a URL a user typed, or say in one line why it is none.

    `urlsplit` raises ValueError for a malformed bracketed host (``[zz]``,
    ``[::1``) and `port` for a bad port; a lone surrogate (a JSON ``\\ud800``,
    or undecodable bytes on a command line) passes them and fails later, when
    the URL is encoded to be stored or sent. Every later step may then take
    the URL apart without a try.

    Raises:
        UnusableURL: the URL cannot be parsed, or is not valid text.
    """
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        raise UnusableURL(f"{url!r} holds characters that are not valid text") from None
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018 (it is the check: a bad port raises here)
        parts.hostname  # noqa: B018
    except ValueError as exc:
        raise UnusableURL(f"{url!r} is not a valid URL: {exc}") from None
    return parts


def check_url(url: str, allow_private: bool, resolve: bool = True) -> None:
    """Check a URL a user submits before it is stored.

    Args:
        url: the URL as typed.
        allow_private: accept non-public addresses.
        resolve: also resolve a host name and check its addresses; literal IPs
            are always checked.

    Raises:
        UnusableURL: the URL cannot be polled; the message says why, in one line.
    """
    parts = split_url(url)
    port = parts.port
    if parts.scheme.lower() not in ("http", "https"):
        raise UnusableURL(f"{url!r} must start with http:// or https://")
    host = parts.hostname
    if not host:
        raise UnusableURL(f"{url!r} has no host name")
    if parts.username is not None or parts.password is not None:
        raise UnusableURL(f"{url!r} carries a user name or password; remove them")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        kind = None if allow_private else refusal(ip)
        if kind is not None:
            raise UnusableURL(f"{host} is {kind}; {ALLOW_HINT}")
        return
    if resolve:
        default_port = 443 if parts.scheme.lower() == "https" else 80
        try:
            check_host(host, port or default_port, allow_private)
        except BlockedAddress as exc:
            raise UnusableURL(str(exc)) from None
        except TransientError:
            raise UnusableURL(f"{host} does not resolve to any address") from None
