"""Fetch one feed over HTTP: the only module that touches the network client.

httpcore is used directly, not httpx, because a poll needs things a general
client does not give: one total deadline that a server dripping a byte per
second cannot stretch, and an address check at connect time (so a redirect or
a DNS answer that changed since the URL was checked cannot reach a private
address). Both live in the network backend, poller._deadline.
"""

from __future__ import annotations

import datetime
import email.utils
import re
import ssl
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import certifi
import httpcore

from . import __version__
from ._deadline import GuardedBackend, deadline
from .errors import PermanentError, PollError, TransientError

USER_AGENT = f"tubepoller/{__version__} (+self-hosted)"
REDIRECTS = (301, 302, 303, 307, 308)
# The Channel columns that store the validators (models.py). A longer one is
# not kept: the next poll then simply gets a 200.
MAX_ETAG = 512
MAX_LAST_MODIFIED = 128
# A server hint longer than this (about 31 years) is as good as "never": the
# scheduler caps hints at its longest interval anyway.
MAX_HINT_S = 1e9

_local = threading.local()


@dataclass(frozen=True)
class FetchResult:
    """What one successful fetch returned."""

    status: int  # 200 or 304 (another 2xx only if a server sends one)
    body: bytes  # b"" on 304
    etag: str | None
    last_modified: str | None
    retry_after_s: float | None
    max_age_s: float | None


def _ssl_context() -> ssl.SSLContext:
    """Return the TLS context of new pools (tests swap it for their own CA)."""
    return ssl.create_default_context(cafile=certifi.where())


def _pool(allow_private: bool) -> httpcore.ConnectionPool:
    # One pool per thread: Dramatiq runs actors on threads and the deadline is
    # per thread. One per allow_private value too, so a keep-alive connection
    # opened with the guard off is never reused by a fetch that has it on.
    pools = _local.__dict__.setdefault("pools", {})
    if allow_private not in pools:
        pools[allow_private] = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=10,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(allow_private),
        )
    return pools[allow_private]


def close_pools() -> None:
    """Close this thread's pooled connections (tests, worker shutdown)."""
    for pool in _local.__dict__.pop("pools", {}).values():
        pool.close()


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
    allow_private: bool,
) -> FetchResult:
    """GET a feed, following redirects, within one total deadline.

    Args:
        url: an http(s) URL.
        etag: the stored ETag, sent as If-None-Match.
        last_modified: the stored Last-Modified, sent as If-Modified-Since.
        timeout: seconds for the whole fetch, redirects and body included.
        max_bytes: largest body accepted, before and after decompression.
        max_redirects: redirects followed before giving up.
        allow_private: allow loopback and private addresses.

    Returns:
        The result; status 304 means "not modified" and comes with no body.

    Raises:
        TransientError: network failure, timeout, DNS failure, 5xx, 408, 429.
        PermanentError: other 4xx, a body over ``max_bytes``, a redirect loop,
            an unsupported scheme; BlockedAddress for a non-public address.
    """
    headers = list(_GET_HEADERS)
    # A value stored before validators were checked may be unsendable: skip it
    # rather than fail every poll of the channel.
    if etag := usable_validator(etag, MAX_ETAG):
        headers.append((b"If-None-Match", etag.encode("ascii")))
    if last_modified := usable_validator(last_modified, MAX_LAST_MODIFIED):
        headers.append((b"If-Modified-Since", last_modified.encode("ascii")))
    prepared = _prepare(url)
    first_host, seen = prepared[0], {url}
    with deadline(time.monotonic() + timeout):
        for _ in range(max_redirects + 1):
            result = _get(url, prepared, headers, timeout, max_bytes, allow_private)
            if isinstance(result, FetchResult):
                return result
            if result in seen:
                raise PermanentError(f"too many redirects: {url} loops back to {result}")
            url = result
            prepared = _prepare(url)
            seen.add(url)
    raise PermanentError(f"too many redirects: more than {max_redirects} from {first_host}")


# Bytes already: httpcore encodes and checks every str header of every request.
_GET_HEADERS = ((b"User-Agent", USER_AGENT.encode("ascii")), (b"Accept-Encoding", b"gzip, deflate"))


@dataclass(frozen=True)
class PostResult:
    """A server's answer to one POST."""

    status: int
    retry_after_s: float | None
    body: bytes  # its first MAX_POST_ANSWER bytes, for an error message


MAX_POST_ANSWER = 1024


def post_form(
    url: str, fields: dict[str, str], *, timeout: float, allow_private: bool
) -> PostResult:
    """POST a form (a WebSub hub request) once, within one total deadline.

    Redirects are not followed: a hub answers where it is asked. Any status
    comes back; the caller judges it.

    Raises:
        TransientError: network failure or timeout.
        PermanentError: an unusable URL; BlockedAddress for a non-public address.
    """
    host, core_url, authority = _prepare(url)
    body = urllib.parse.urlencode(fields).encode()
    headers = [
        ("Host", authority),
        ("User-Agent", USER_AGENT),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", str(len(body))),
    ]
    with (
        deadline(time.monotonic() + timeout),
        _network_errors(host, timeout),
        _pool(allow_private).stream("POST", core_url, headers=headers, content=body) as r,
    ):
        answer = b""
        for chunk in r.iter_stream():  # read to its end (bounded by the deadline)
            answer = (answer + chunk)[:MAX_POST_ANSWER]
        retry_after = parse_retry_after(_headers(r.headers).get("retry-after"), time.time())
    return PostResult(r.status, retry_after, answer)


def _prepare(url: str) -> tuple[str, httpcore.URL, str]:
    """Check ``url``; return its host, its httpcore URL and its Host header.

    We build the httpcore URL ourselves because httpcore parses a string with
    urlparse: it drops ``;params``, refuses non-ASCII hosts and writes an IPv6
    Host header without brackets.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
    except (ValueError, UnicodeError) as exc:
        raise PermanentError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise PermanentError(f"unsupported URL scheme in {url!r}; only http and https")
    if not host:
        raise PermanentError(f"URL {url!r} has no host")
    authority = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    if port != default:
        authority += f":{port}"
    # Quote only what is not already legal, so %-escapes in the URL survive.
    target = urllib.parse.quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
    if parts.query:
        target += "?" + urllib.parse.quote(parts.query, safe="/%:@!$&'()*+,;=~?")
    core_url = httpcore.URL(scheme=parts.scheme, host=ascii_host, port=port, target=target)
    return host, core_url, authority


def _status(exc: PollError, response: httpcore.Response) -> PollError:
    """Return `exc` carrying the status of the answer that caused it."""
    exc.http_status = response.status
    return exc


def _get(
    url: str,
    prepared: tuple[str, httpcore.URL, str],
    headers: list[tuple[bytes, bytes]],
    timeout: float,
    max_bytes: int,
    allow_private: bool,
) -> FetchResult | str:
    """Make one request (`url`, as `_prepare` made it); return the result, or the next URL."""
    host, core_url, authority = prepared
    request_headers = [(b"Host", authority.encode("ascii")), *headers]
    with (
        _network_errors(host, timeout),
        _pool(allow_private).stream("GET", core_url, headers=request_headers) as r,
    ):
        found = _headers(r.headers)
        retry_after = parse_retry_after(found.get("retry-after"), time.time())
        if r.status in REDIRECTS:
            if not found.get("location"):
                raise _status(PermanentError(f"HTTP {r.status} from {host} without a Location"), r)
            try:
                target = urllib.parse.urljoin(url, found["location"])
            except ValueError as exc:  # e.g. "http://[::1", an unclosed IPv6 host
                raise PermanentError(
                    f"HTTP {r.status} from {host} with an invalid Location "
                    f"{found['location'][:200]!r}: {exc}"
                ) from None
            _prepare(target)  # refuse file:, ftp:, javascript: before following
            return urllib.parse.urldefrag(target).url
        if r.status in (408, 429) or r.status >= 500:
            raise _status(TransientError(f"HTTP {r.status} from {host}", retry_after), r)
        if r.status != 304 and not 200 <= r.status < 300:
            raise _status(PermanentError(f"HTTP {r.status} from {host}"), r)
        if r.status == 304:
            # A 304 has no body, but httpcore returns the connection to the
            # pool only once the response is read to its end: unread, every
            # 304 poll would open a new connection.
            for _ in r.iter_stream():
                pass
            body = b""
        else:
            body = _read_body(r, found, host, max_bytes)
    return FetchResult(
        status=r.status,
        body=body,
        etag=usable_validator(found.get("etag"), MAX_ETAG),
        last_modified=usable_validator(found.get("last-modified"), MAX_LAST_MODIFIED),
        retry_after_s=retry_after,
        max_age_s=parse_max_age(found.get("cache-control")),
    )


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names to values; repeated headers joined by ", " (RFC 9110)."""
    found: dict[str, str] = {}
    for name, value in raw:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1").strip()
        found[key] = f"{found[key]}, {text}" if key in found else text
    return found


def _read_body(
    response: httpcore.Response, found: dict[str, str], host: str, max_bytes: int
) -> bytes:
    """Stream the body, decompressing it, and stop once it passes ``max_bytes``."""
    too_big = PermanentError(f"feed larger than {max_bytes} bytes from {host}")
    length = found.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_big
    encoding = found.get("content-encoding", "identity").lower()
    if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
        raise PermanentError(f"unsupported Content-Encoding {encoding!r} from {host}")
    decoder: zlib._Decompress | None = None
    body, received = bytearray(), 0
    try:
        for chunk in response.iter_stream():
            received += len(chunk)
            if received > max_bytes:
                raise too_big
            if encoding in ("identity", ""):
                body += chunk
                continue
            if decoder is None:
                decoder = zlib.decompressobj(_wbits(encoding, chunk))
            # max_length bounds each step, so a gzip bomb never gets inflated in
            # memory past the cap: we stop after max_bytes + 1 bytes of output.
            while chunk:
                body += decoder.decompress(chunk, max_bytes - len(body) + 1)
                if len(body) > max_bytes:
                    raise too_big
                chunk = decoder.unconsumed_tail
        if decoder is not None:
            body += decoder.flush()  # at most one pending match: a few bytes
    except zlib.error as exc:
        raise PermanentError(f"corrupt {encoding} body from {host}: {exc}") from None
    if len(body) > max_bytes:
        raise too_big
    return bytes(body)


def _wbits(encoding: str, first: bytes) -> int:
    # "deflate" should mean a zlib stream, but some servers send raw deflate;
    # a zlib stream starts with a 2-byte header whose value is a multiple of 31.
    if encoding != "deflate":
        return 16 + zlib.MAX_WBITS
    looks_zlib = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.MAX_WBITS if looks_zlib else -zlib.MAX_WBITS


@contextmanager
def _network_errors(host: str, timeout: float) -> Iterator[None]:
    """Turn httpcore exceptions into TransientError or PermanentError."""
    try:
        yield
    except httpcore.TimeoutException:
        raise TransientError(f"timed out after {timeout:g} s fetching {host}") from None
    except httpcore.ConnectError as exc:
        raise TransientError(f"cannot connect to {host}: {_one_line(exc)}") from None
    except (httpcore.NetworkError, httpcore.RemoteProtocolError) as exc:
        # A peer that hangs up or sends garbage is usually restarting.
        raise TransientError(f"connection to {host} failed: {_one_line(exc)}") from None
    except (httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise PermanentError(f"cannot fetch from {host}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__  # messages are one line


def usable_validator(value: str | None, limit: int) -> str | None:
    """Return an ETag or Last-Modified worth storing and sending back, else None.

    Only printable ASCII fits in a request header (httpcore refuses anything
    else, every time), and only ``limit`` characters fit in its column.
    """
    if not value or len(value) > limit or not _HEADER_TEXT.fullmatch(value):
        return None
    return value


_HEADER_TEXT = re.compile(r"[\t -~]*")  # printable ASCII and tabs


def _seconds(digits: str) -> float:
    """Return a delta-seconds value, capped at `MAX_HINT_S`.

    Raises:
        ValueError: ``digits`` is no integer (or has more digits than
            Python converts).
    """
    return max(0.0, float(min(int(digits.strip()), int(MAX_HINT_S))))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Parse Retry-After (seconds or an HTTP date) into seconds from ``now``.

    Returns:
        Seconds, at least 0; None when absent or invalid.
    """
    if not value:
        return None
    try:
        return _seconds(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # a "-0000" zone; HTTP dates are always GMT
        when = when.replace(tzinfo=datetime.UTC)
    return min(MAX_HINT_S, max(0.0, when.timestamp() - now))


def parse_max_age(value: str | None) -> float | None:
    """Return ``max-age`` from a Cache-Control value, in seconds, or None."""
    for directive in (value or "").split(","):
        name, _, arg = directive.strip().partition("=")
        if name.strip().lower() == "max-age":
            try:
                return _seconds(arg.strip().strip('"'))
            except ValueError:
                return None
    return None
