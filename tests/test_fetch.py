"""fetch: deadline, validators, redirects, caps and errors, against loopback servers."""

from __future__ import annotations

import email.utils
import gzip
import shutil
import socket
import ssl
import subprocess
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpcore
import pytest

from poller import __version__, fetch, netguard
from poller.config import Settings
from poller.errors import BlockedAddress, PermanentError, TransientError
from tests.support.answers import drip, reply
from tests.support.cluster import fail_or_skip
from tests.support.feedserver import FeedServer

FEED = b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>t</title></feed>"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer(keep_alive=False)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def fresh_pools() -> Iterator[None]:
    # Pools live per thread; a test must not reuse a connection another opened.
    fetch.close_pools()
    yield
    fetch.close_pools()


DEFAULTS = Settings()


def get(url: str, **kwargs: object) -> fetch.FetchResult:
    """Fetch a URL with the default limits; the guard is off unless asked (servers are local)."""
    kwargs.setdefault("allow_private", True)
    kwargs.setdefault("timeout", DEFAULTS.rss_timeout)
    kwargs.setdefault("max_bytes", DEFAULTS.max_feed_bytes)
    kwargs.setdefault("max_redirects", DEFAULTS.max_redirects)
    return fetch.fetch(url, **kwargs)  # type: ignore[arg-type]


def test_a_feed_is_fetched_with_validators_and_user_agent(server: FeedServer) -> None:
    server.routes["/feed"] = lambda h: reply(
        h,
        200,
        FEED,
        {
            "ETag": '"v1"',
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            "Content-Type": "application/atom+xml",
            "Cache-Control": "public, max-age=600",
        },
    )
    result = get(server.url("/feed"))
    assert result.status == 200
    assert result.body == FEED
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert result.max_age_s == 600
    assert result.retry_after_s is None
    headers = server.requests[0].headers
    assert headers["User-Agent"] == f"tubepoller/{__version__} (+self-hosted)"
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert headers["Host"] == f"127.0.0.1:{server.server_address[1]}"


def test_a_matching_etag_gets_a_304_with_an_empty_body(server: FeedServer) -> None:
    def feed(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            reply(h, 304, headers={"ETag": '"v1"'})
        else:
            reply(h, 200, FEED, {"ETag": '"v1"'})

    server.routes["/feed"] = feed
    first = get(server.url("/feed"))
    second = get(
        server.url("/feed"), etag=first.etag, last_modified="Mon, 01 Jan 2024 00:00:00 GMT"
    )
    assert (second.status, second.body, second.etag) == (304, b"", '"v1"')
    assert server.requests[1].headers["If-Modified-Since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


def test_a_304_without_validators_returns_none_for_them(server: FeedServer) -> None:
    server.routes["/feed"] = lambda h: reply(h, 304)
    result = get(server.url("/feed"), etag='"old"')
    assert (result.status, result.etag, result.last_modified) == (304, None, None)


def test_a_gzip_body_is_decompressed(server: FeedServer) -> None:
    server.routes["/feed"] = lambda h: reply(
        h, 200, gzip.compress(FEED), {"Content-Encoding": "gzip"}
    )
    assert get(server.url("/feed")).body == FEED


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_a_deflate_body_is_decompressed_in_either_form(server: FeedServer, wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    body = packer.compress(FEED) + packer.flush()
    server.routes["/feed"] = lambda h: reply(h, 200, body, {"Content-Encoding": "deflate"})
    assert get(server.url("/feed")).body == FEED


@pytest.fixture(scope="module")
def bomb() -> bytes:
    packer = zlib.compressobj(9, wbits=31)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(50)) + packer.flush()


def test_gzip_bomb_is_cut_at_the_cap(server: FeedServer, bomb: bytes) -> None:
    assert len(bomb) < 100_000  # 50 MB of zeros
    server.routes["/bomb"] = lambda h: reply(h, 200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(PermanentError, match=r"feed larger than 1048576 bytes from 127\.0\.0\.1"):
        get(server.url("/bomb"), max_bytes=1 << 20)


def test_a_body_past_the_cap_is_refused_even_without_a_length(server: FeedServer) -> None:
    def big(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")  # no Content-Length: read to close
        h.end_headers()
        for _ in range(64):
            h.wfile.write(b"x" * 4096)

    server.routes["/big"] = big
    with pytest.raises(PermanentError, match="feed larger than 10000 bytes"):
        get(server.url("/big"), max_bytes=10_000)


def test_a_declared_length_past_the_cap_is_refused_before_reading(server: FeedServer) -> None:
    server.routes["/big"] = lambda h: reply(h, 200, b"x" * 20_000)
    with pytest.raises(PermanentError, match="feed larger than 10000 bytes"):
        get(server.url("/big"), max_bytes=10_000)


drip_body = drip(b"x", count=100, every=0.5, length=100)


def drip_headers(h: BaseHTTPRequestHandler) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.5)


@pytest.mark.parametrize("route", [drip_body, drip_headers], ids=["body", "headers"])
def test_a_dripping_server_cannot_stretch_the_deadline(server: FeedServer, route: object) -> None:
    server.routes["/drip"] = route  # type: ignore[assignment]
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"timed out after 2 s fetching 127\.0\.0\.1"):
        get(server.url("/drip"), timeout=2)
    assert time.monotonic() - started < 2 + 1.5


def test_a_slow_name_lookup_counts_against_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_dns(*args: object) -> list[str]:
        time.sleep(3)  # a resolver waiting on a dead name server
        return ["127.0.0.1"]

    monkeypatch.setattr(netguard, "check_host", slow_dns)
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out after 0.5 s"):
        get("http://feeds.invalid/feed", timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_a_redirect_chain_within_the_cap_is_followed(server: FeedServer) -> None:
    for n in range(1, 4):
        target = "/feed" if n == 1 else f"/r{n - 1}"
        server.routes[f"/r{n}"] = lambda h, t=target, n=n: reply(
            h, (301, 302, 307)[n - 1], headers={"Location": t}
        )
    server.routes["/feed"] = lambda h: reply(h, 200, FEED)
    result = get(server.url("/r3"), max_redirects=3)
    assert result.body == FEED
    assert [r.path for r in server.requests] == ["/r3", "/r2", "/r1", "/feed"]


def test_a_redirect_chain_past_the_cap_fails(server: FeedServer) -> None:
    for n in range(1, 8):
        server.routes[f"/r{n}"] = lambda h, n=n: reply(h, 308, headers={"Location": f"/r{n + 1}"})
    with pytest.raises(PermanentError, match=r"too many redirects: more than 5"):
        get(server.url("/r1"))


def test_a_redirect_loop_fails_at_once(server: FeedServer) -> None:
    server.routes["/a"] = lambda h: reply(h, 302, headers={"Location": "/b"})
    server.routes["/b"] = lambda h: reply(h, 302, headers={"Location": server.url("/a")})
    with pytest.raises(
        PermanentError,
        match=r"too many redirects: http://127\.0\.0\.1:\d+/b loops back to http://127\.0\.0\.1:\d+/a$",
    ):
        get(server.url("/a"), max_redirects=20)
    assert len(server.requests) == 2


def test_a_redirect_to_another_scheme_is_refused(server: FeedServer) -> None:
    server.routes["/a"] = lambda h: reply(h, 301, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(PermanentError, match="unsupported URL scheme"):
        get(server.url("/a"))


def test_a_blocked_address_is_refused_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    def connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("connected")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    for url in ("http://127.0.0.2:8080/feed", "http://[::1]:8080/feed", "https://10.0.0.1/"):
        with pytest.raises(BlockedAddress, match="TUBEPOLLER_ALLOW_PRIVATE_NETWORKS=1"):
            get(url, allow_private=False)


def test_localhost_is_checked_by_address_not_by_name(server: FeedServer) -> None:
    server.routes["/feed"] = lambda h: reply(h, 200, FEED)
    with pytest.raises(BlockedAddress, match="localhost resolves to"):
        get(server.url("/feed", host="localhost"), allow_private=False)
    assert server.requests == []


def test_each_redirect_hop_is_checked_again(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend 127.0.0.1 is public, so the first hop passes and the redirect to
    # 127.0.0.2 (still loopback) is what the guard must stop.
    real = netguard.refusal
    monkeypatch.setattr(
        netguard, "refusal", lambda ip: None if str(ip) == "127.0.0.1" else real(ip)
    )
    port = server.server_address[1]
    server.routes["/a"] = lambda h: reply(h, 302, headers={"Location": f"http://127.0.0.2:{port}/"})
    with pytest.raises(BlockedAddress, match="127.0.0.2 is a loopback address"):
        get(server.url("/a"), allow_private=False)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [404, 410, 400, 403])
def test_client_errors_are_permanent(server: FeedServer, status: int) -> None:
    server.routes["/x"] = lambda h: reply(h, status)
    with pytest.raises(PermanentError, match=rf"^HTTP {status} from 127\.0\.0\.1$"):
        get(server.url("/x"))


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_transient(server: FeedServer, status: int) -> None:
    server.routes["/x"] = lambda h: reply(h, status)
    with pytest.raises(TransientError, match=rf"^HTTP {status} from 127\.0\.0\.1$") as caught:
        get(server.url("/x"))
    assert caught.value.retry_after_s is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_passed_on_with_the_transient_error(server: FeedServer, status: int) -> None:
    server.routes["/x"] = lambda h: reply(h, status, headers={"Retry-After": "120"})
    with pytest.raises(TransientError) as caught:
        get(server.url("/x"))
    assert caught.value.retry_after_s == 120


def test_a_refused_connection_is_transient() -> None:
    # A port nothing listens on (a stopped server may still take a connection
    # from its backlog and reset it: a different error, transient too).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError, match="cannot connect to 127.0.0.1"):
        get(f"http://127.0.0.1:{port}/feed")


def test_a_server_that_hangs_up_is_transient(server: FeedServer) -> None:
    server.routes["/x"] = lambda h: h.connection.shutdown(2)
    with pytest.raises(TransientError, match="127.0.0.1"):
        get(server.url("/x"))


def test_a_non_http_url_is_permanent() -> None:
    with pytest.raises(PermanentError, match="unsupported URL scheme"):
        get("ftp://127.0.0.1/feed")


def test_ipv6_hosts_and_path_parameters_reach_the_server_intact() -> None:
    srv = FeedServer(host="::1", keep_alive=False)
    try:
        srv.routes["/feed;v=1"] = lambda h: reply(h, 200, FEED)
        result = get(srv.url("/feed;v=1?a=1&b=%2F"))
        assert result.body == FEED
        request = srv.requests[0]
        assert request.path == "/feed;v=1?a=1&b=%2F"
        assert request.headers["Host"] == f"[::1]:{srv.server_address[1]}"
    finally:
        srv.stop()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert fetch.parse_retry_after("120", now) == 120
    assert fetch.parse_retry_after(date, now) == 90
    assert fetch.parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now) == 0
    assert fetch.parse_retry_after("-5", now) == 0
    assert fetch.parse_retry_after("soon", now) is None
    assert fetch.parse_retry_after(None, now) is None


def test_max_age_is_read_from_cache_control() -> None:
    assert fetch.parse_max_age("public, max-age=300") == 300
    assert fetch.parse_max_age('MAX-AGE="60", must-revalidate') == 60
    assert fetch.parse_max_age("max-age=-4") == 0
    assert fetch.parse_max_age("max-age=abc") is None
    assert fetch.parse_max_age("no-store") is None
    assert fetch.parse_max_age(None) is None


# --- TLS: the deadline wrapper must survive start_tls, and SNI must be the name.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        fail_or_skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FeedServer]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment, func-returns-value]
    monkeypatch.setattr(fetch, "_ssl_context", lambda: ssl.create_default_context(cafile=cert))
    srv = FeedServer(tls=context, keep_alive=False)
    srv.sni_names = names  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def test_https_connects_to_the_checked_ip_with_the_name_for_sni(tls_server: FeedServer) -> None:
    tls_server.routes["/feed"] = lambda h: reply(h, 200, FEED)
    result = get(tls_server.url("/feed", host="localhost"))
    assert result.body == FEED
    assert tls_server.sni_names == ["localhost"]  # type: ignore[attr-defined]
    assert tls_server.requests[0].headers["Host"] == f"localhost:{tls_server.server_address[1]}"


def test_https_with_an_untrusted_certificate_is_transient(
    tls_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "_ssl_context", ssl.create_default_context)
    fetch.close_pools()
    with pytest.raises(TransientError, match="cannot connect to localhost"):
        get(tls_server.url("/feed", host="localhost"))


def test_a_dripping_https_server_cannot_stretch_the_deadline(tls_server: FeedServer) -> None:
    tls_server.routes["/drip"] = drip_body
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out after 1 s"):
        get(tls_server.url("/drip", host="localhost"), timeout=1)
    assert time.monotonic() - started < 1 + 1.5
