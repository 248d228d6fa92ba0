"""Broken and hostile feeds: each ends recorded on its channel, siblings still polled.

Every case runs through the poll actor on a real worker thread, beside
healthy channels, in one tick: the worker must survive all of them.
"""

from __future__ import annotations

import gzip
import time
from http.server import BaseHTTPRequestHandler

import pytest

from poller import actors
from poller.broker import POLL_QUEUE, TICK_QUEUE
from poller.models import Channel, Video
from tests.support.answers import drip
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = pytest.mark.usefixtures("conn")


def rss(items: str, encoding: str = "utf-8", declaration: bool = True) -> str:
    head = f'<?xml version="1.0" encoding="{encoding}"?>' if declaration else ""
    return f'{head}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def item(guid: str, title: str = "ok") -> str:
    return f"<item><guid>{guid}</guid><title>{title}</title></item>"


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None):
    def handler(h: BaseHTTPRequestHandler) -> None:
        h._send(status, body, headers)  # type: ignore[attr-defined]

    return handler


def loop(h: BaseHTTPRequestHandler) -> None:
    h._send(302, b"", {"Location": "/raw/redirect-loop"})  # type: ignore[attr-defined]


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><rss version="2.0"><channel><item><guid>1</guid><title>&lol9;</title></item>'
    b"</channel></rss>"
)
HUGE = rss("".join(item(f"g{i}", f"Episode {i}") for i in range(10_000))).encode()

# name: (route, expected error fragment, or None for a poll that succeeds)
BROKEN = {
    "malformed": (answer(200, b"<rss version='2.0'><channel><item><title>open"), "not a feed"),
    "empty": (answer(200, b""), "body is empty"),
    "html": (answer(200, b"<!doctype html><html><body><p>Hi</p></body></html>"), "not a feed"),
    "bomb": (answer(200, BOMB), "declares XML entities"),
    "gzip-bomb": (
        answer(200, gzip.compress(b"\0" * 50_000_000), {"Content-Encoding": "gzip"}),
        "larger than",
    ),
    "too-big": (answer(200, b"<rss>" + b" " * 6_000_000), "larger than"),
    "drip": (drip(b"<", count=30, every=1, length=100_000), "timed out"),
    "redirect-loop": (loop, "redirect"),
    "404": (answer(404, b"gone"), "HTTP 404"),
    "410": (answer(410, b"gone"), "HTTP 410"),
    "500": (answer(500, b"oops"), "HTTP 500"),
    "503": (answer(503, b"busy"), "HTTP 503"),
}
WORKING = {
    "no-content-type": (answer(200, rss(item("a")).encode(), {}), None),
    "wrong-content-type": (
        answer(200, rss(item("a")).encode(), {"Content-Type": "image/png"}),
        None,
    ),
    "invalid-utf8": (
        answer(200, rss(item("a", "caf\udcff")).encode("utf-8", "surrogateescape")),
        None,
    ),
    "legacy-encoding": (
        answer(200, rss(item("a", "Привет"), "windows-1251").encode("cp1251")),
        None,
    ),
    "hostile-titles": (
        answer(
            200,
            rss(
                item("a", "<![CDATA[<script>x</script>\x01\x1b[31m" + "A" * 100_000 + "]]>")
            ).encode(),
        ),
        None,
    ),
    "ten-thousand-entries": (answer(200, HUGE), None),
}


def test_every_broken_feed_is_recorded_and_the_siblings_are_polled(
    feeds: FeedServer, settings, stub_broker, stub_worker, monkeypatch
) -> None:
    monkeypatch.setitem(actors.poll_channel.options, "max_retries", 0)  # no backoff waits
    user = make_user()
    channels = {}
    for name, (route, _) in {**BROKEN, **WORKING}.items():
        feeds.routes[f"/raw/{name}"] = route
        channels[name] = subscribe(user, f"{feeds.base}/raw/{name}")
    healthy = []
    for _ in range(3):
        source = feeds.add_channel()
        source.upload()
        healthy.append(subscribe(user, f"{feeds.base}/feeds/videos.xml?channel_id={source.id}"))
    started = time.time()

    actors.tick.send()
    stub_broker.join(TICK_QUEUE, fail_fast=False)
    stub_broker.join(POLL_QUEUE, fail_fast=False)

    for name, (_, fragment) in BROKEN.items():
        channel = Channel.get_by_id(channels[name].id)
        assert channel.consecutive_failures == 1, name
        assert fragment in (channel.last_error or ""), (name, channel.last_error)
        assert channel.next_poll_at > started and channel.claimed_until == 0, name
    for name in WORKING:
        channel = Channel.get_by_id(channels[name].id)
        assert channel.consecutive_failures == 0 and channel.last_error is None, name
    for channel in healthy:
        assert Video.select().where(Video.channel == channel.id).count() == 1

    titles = {v.channel_id: v.title for v in Video.select() if v.external_id == "a"}
    assert titles[channels["legacy-encoding"].id] == "Привет"
    hostile = titles[channels["hostile-titles"].id]
    assert len(hostile) == 500 and "\x01" not in hostile and "\x1b" not in hostile
    assert (
        Video.select().where(Video.channel == channels["ten-thousand-entries"].id).count() == 10_000
    )
