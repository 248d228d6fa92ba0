"""The fake YouTube's host-wide modes, seen through the real fetch and classifier."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from poller import host_signals
from poller.errors import PollError
from poller.fetch import fetch
from poller.parse import parse_feed
from tests.support import fakeyoutube
from tests.support.fakeyoutube import FakeYouTube


@pytest.fixture
def youtube() -> Iterator[FakeYouTube]:
    server = FakeYouTube(channels=2, uploads=3)
    yield server
    server.stop()


def answer(url: str) -> tuple[int | None, bytes, str]:
    """Fetch `url` as a poll does; return (status, body, error text) for `classify`."""
    try:
        result = fetch(url, timeout=5, max_bytes=1 << 20, max_redirects=5, allow_private=True)
    except PollError as exc:
        return None, b"", str(exc)
    return result.status, result.body, ""


def kind_of(url: str) -> str:
    status, body, error = answer(url)
    invalid_xml = False
    if status == 200:  # the bot-check page is no feed either; it is classified first
        try:
            parse_feed(body)
        except PollError:
            invalid_xml = True
    return host_signals.classify(status, body, error, invalid_xml=invalid_xml)


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (fakeyoutube.NORMAL, host_signals.ORDINARY),
        (fakeyoutube.BOT_CHECK, host_signals.BOT_CHECK),
        (fakeyoutube.RATE_LIMITED, host_signals.RATE_LIMITED),
        (fakeyoutube.FORBIDDEN, host_signals.FORBIDDEN),
        (fakeyoutube.NOT_FOUND, host_signals.OUTAGE),
        (fakeyoutube.SERVER_ERROR, host_signals.OUTAGE),
        (fakeyoutube.INVALID_XML, host_signals.OUTAGE),
    ],
)
def test_every_mode_is_host_wide_and_classified_as_its_kind(
    youtube: FakeYouTube, mode: str, kind: str
) -> None:
    youtube.set_mode(mode)
    assert kind_of(youtube.feed_url(0)) == kind
    assert kind_of(youtube.feed_url(1)) == kind
    if mode != fakeyoutube.INVALID_XML:  # a catalog page is no feed to parse
        status, body, error = answer(f"{youtube.base}/channel/{youtube.channel(0).id}/videos")
        assert host_signals.classify(status, body, error) == (
            host_signals.ORDINARY if mode == fakeyoutube.NORMAL else kind
        )
    assert youtube.mode_counts[mode] == (2 if mode == fakeyoutube.INVALID_XML else 3)


def test_the_bot_check_is_an_html_page_with_status_200(youtube: FakeYouTube) -> None:
    with youtube.mode(fakeyoutube.BOT_CHECK):
        status, body, _ = answer(youtube.feed_url(0))
    assert status == 200
    assert "Sign in to confirm you’re not a bot" in body.decode()
    assert kind_of(youtube.feed_url(0)) == host_signals.ORDINARY  # back to normal after the block


def test_a_429_storm_carries_retry_after(youtube: FakeYouTube) -> None:
    youtube.set_mode(fakeyoutube.RATE_LIMITED, retry_after=300)
    with pytest.raises(PollError) as raised:
        fetch(
            youtube.feed_url(0), timeout=5, max_bytes=1 << 20, max_redirects=5, allow_private=True
        )
    assert getattr(raised.value, "retry_after_s", None) == 300
    assert host_signals.classify(error=str(raised.value)) == host_signals.RATE_LIMITED


def test_requests_are_counted_per_mode(youtube: FakeYouTube) -> None:
    for _ in range(2):
        answer(youtube.feed_url(0))
    with youtube.mode(fakeyoutube.BOT_CHECK):
        for _ in range(3):
            answer(youtube.feed_url(1))
    answer(f"{youtube.base}/watch?v=abc")
    assert youtube.mode_counts[fakeyoutube.NORMAL] == 3
    assert youtube.mode_counts[fakeyoutube.BOT_CHECK] == 3
    assert youtube.served == 6  # the base server's total counts every mode


def test_the_mode_can_be_switched_from_another_process(youtube: FakeYouTube) -> None:
    request = urllib.request.Request(
        f"{youtube.base}/_bench/mode?name=rate_limited&retry_after=30", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        assert json.load(response)["mode"] == fakeyoutube.RATE_LIMITED
    assert youtube.retry_after == 30
    with urllib.request.urlopen(f"{youtube.base}/_bench/stats", timeout=5) as response:  # noqa: S310
        assert json.load(response)["mode_rate_limited"] == 0  # control requests are not counted
    bad = urllib.request.Request(f"{youtube.base}/_bench/mode?name=sulk", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(bad, timeout=5)  # noqa: S310
    assert raised.value.code == 400
