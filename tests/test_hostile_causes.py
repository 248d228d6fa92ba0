"""Hostile answers that used to escape a poll unrecorded, or hide new uploads.

Each case is a loopback server answering one hostile way, polled twice
through `pipeline.poll_channel` on a real database (SQLite and PostgreSQL):
the first poll must end as a proper outcome, and the second too (a value
stored by the first must not break every later poll).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import falcon.testing
import pytest

from api.app import create_app
from poller import catalog, pipeline
from poller.dates import LATEST, sane_epoch, struct_epoch
from poller.errors import PermanentError
from poller.fetch import (
    MAX_ETAG,
    MAX_HINT_S,
    MAX_LAST_MODIFIED,
    fetch,
    parse_max_age,
    parse_retry_after,
    usable_validator,
)
from poller.ids import MAX_ID, external_id
from poller.listings import iso, videos
from poller.models import Channel, Video
from poller.parse import parse_feed
from poller.scan import scan_ids
from tests.api.support import Caller
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = pytest.mark.usefixtures("conn")
BOTH = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
# 9999-12-31T23:00:00-12:00 is 10000-01-01T11:00:00Z: no datetime holds it.
YEAR_10000 = 253402340400.0
LONG = "https://example.com/episodes/" + "x" * 300


class HostileFeed:
    """An RSS feed at /raw/NAME whose items and headers a test sets."""

    def __init__(self, server: FeedServer, name: str, head: str = "", tail: str = "") -> None:
        self.items: list[str] = []
        self.head, self.tail = head, tail
        self.headers: dict[str, str] = {}
        self.url = f"{server.base}/raw/{name}"
        self.route: Callable[[BaseHTTPRequestHandler], None] | None = None
        server.routes[f"/raw/{name}"] = self._answer

    def body(self) -> bytes:
        return (self.head + "".join(self.items) + self.tail).encode("utf-8", "surrogateescape")

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        if self.route is not None:
            self.route(handler)
            return
        handler._send(200, self.body(), self.headers)  # type: ignore[attr-defined]


def rss_feed(server: FeedServer, name: str, declaration: str = "") -> HostileFeed:
    return HostileFeed(
        server,
        name,
        head=f'{declaration}<rss version="2.0"><channel><title>t</title>',
        tail="</channel></rss>",
    )


def guid(value: str, extra: str = "") -> str:
    return f"<item><guid>{value}</guid><title>ep {value[:20]}</title>{extra}</item>"


def poll(channel: Channel, settings) -> pipeline.PollResult:
    return pipeline.poll_channel(channel.id, time.time(), settings)


def poll_twice(feed: HostileFeed, settings) -> tuple[Channel, list[pipeline.PollResult]]:
    channel = subscribe(make_user(), feed.url)
    results = [poll(channel, settings), poll(channel, settings)]
    return Channel.get_by_id(channel.id), results


def external_ids(channel: Channel) -> set[str]:
    return {v.external_id for v in Video.select().where(Video.channel == channel.id)}


# --- the poll path, end to end ---------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("header", ["Retry-After", "Cache-Control"])
def test_a_400_digit_server_hint_is_a_long_wait_not_a_crash(
    feeds: FeedServer, settings, header: str
) -> None:
    feed = rss_feed(feeds, "hint")
    feed.items.append(guid("a"))
    digits = "9" * 400
    feed.headers[header] = digits if header == "Retry-After" else f"max-age={digits}"

    channel, results = poll_twice(feed, settings)

    assert [r.outcome for r in results] == [pipeline.UNCHANGED, pipeline.UNCHANGED]
    assert channel.last_error is None and external_ids(channel) == {"a"}
    # The scheduler caps a server's hint at the longest interval.
    assert channel.next_poll_at <= time.time() + settings.max_interval + 1


@BOTH
def test_a_redirect_to_an_unparsable_location_is_a_recorded_error(
    feeds: FeedServer, settings
) -> None:
    feed = rss_feed(feeds, "bad-redirect")
    feed.route = lambda h: h._send(302, b"", {"Location": "http://[::1"})  # type: ignore[attr-defined]

    channel, results = poll_twice(feed, settings)

    assert [r.outcome for r in results] == [pipeline.POLL_FAILED, pipeline.POLL_FAILED]
    assert "invalid Location 'http://[::1'" in (channel.last_error or "")
    assert channel.consecutive_failures == 2 and channel.claimed_until == 0


@BOTH
def test_a_feed_in_an_unknown_encoding_is_parsed_as_well_as_it_can_be(
    feeds: FeedServer, settings
) -> None:
    feed = rss_feed(feeds, "bogus", declaration='<?xml version="1.0" encoding="x-bogus"?>')
    feed.items.append(guid("a"))
    channel, results = poll_twice(feed, settings)
    assert [r.outcome for r in results] == [pipeline.UNCHANGED, pipeline.UNCHANGED]
    assert channel.last_error is None and external_ids(channel) == {"a"}

    feed.items.append(guid("b"))
    assert poll(channel, settings).outcome == pipeline.NEW


@BOTH
def test_a_date_past_year_9999_is_stored_as_no_date(feeds: FeedServer, settings) -> None:
    feed = HostileFeed(
        feeds,
        "y10k",
        head='<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>',
        tail="</feed>",
    )
    feed.items += [
        "<entry><id>far</id><published>9999-12-31T23:00:00-12:00</published></entry>",
        "<entry><id>near</id><published>2025-01-01T00:00:00Z</published></entry>",
    ]
    channel, results = poll_twice(feed, settings)

    assert results[0].outcome == pipeline.UNCHANGED and channel.last_error is None
    dates = {v.external_id: v.published_at for v in Video.select()}
    assert dates == {"far": None, "near": 1735689600.0}


@BOTH
@pytest.mark.parametrize(
    "headers",
    [
        {"ETag": '"caf\u00e9"'},
        {"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GM\u00c9"},
        {"ETag": '"' + "e" * MAX_ETAG + '"'},
        {"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT" + " " * MAX_LAST_MODIFIED + "x"},
    ],
    ids=["non-ascii-etag", "non-ascii-last-modified", "long-etag", "long-last-modified"],
)
def test_a_validator_that_cannot_be_sent_back_is_not_stored(
    feeds: FeedServer, settings, headers: dict[str, str]
) -> None:
    feed = rss_feed(feeds, "validators")
    feed.items.append(guid("a"))
    feed.headers.update(headers)

    channel, results = poll_twice(feed, settings)

    assert [r.outcome for r in results] == [pipeline.UNCHANGED, pipeline.UNCHANGED]
    assert channel.etag is None and channel.last_modified is None
    assert channel.consecutive_failures == 0 and channel.last_error is None


def test_a_stored_unsendable_validator_is_not_sent(feeds: FeedServer, settings) -> None:
    """A channel whose validator was stored before they were checked is polled again."""
    feed = rss_feed(feeds, "poisoned")
    feed.items.append(guid("a"))
    channel = subscribe(make_user(), feed.url)
    Channel.update(etag='"caf\u00e9"', last_modified="\u00e9").where(
        Channel.id == channel.id
    ).execute()

    assert poll(channel, settings).outcome == pipeline.UNCHANGED
    assert Channel.get_by_id(channel.id).last_error is None


@BOTH
def test_control_characters_are_stripped_from_ids(feeds: FeedServer, settings) -> None:
    feed = rss_feed(feeds, "nul")
    feed.items += [guid("a\x00b"), guid("c&#1;d"), guid("e\u200bf")]

    channel, results = poll_twice(feed, settings)

    assert results[0].outcome == pipeline.UNCHANGED and channel.last_error is None
    assert external_ids(channel) == {"ab", "cd", "ef"}
    assert all("\x00" not in v.url for v in Video.select())


@BOTH
def test_long_guids_that_share_their_start_stay_two_videos(feeds: FeedServer, settings) -> None:
    feed = rss_feed(feeds, "long")
    feed.items += [guid(LONG + "1"), guid(LONG + "2")]
    channel, results = poll_twice(feed, settings)
    assert channel.last_error is None
    ids = external_ids(channel)
    assert ids == {external_id(LONG + "1"), external_id(LONG + "2")} and len(ids) == 2

    feed.items.append(guid(LONG + "3"))
    assert len(poll(channel, settings).new_video_ids) == 1


ATOM_HEAD = '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'


@BOTH
@pytest.mark.parametrize(
    "head, tail, entry",
    [
        (ATOM_HEAD, "</feed>", '<entry><title>{0}</title><link href="http://x/{0}"/></entry>'),
        ('<rss version="2.0"><channel><title>t</title></channel>', "</rss>", guid("{0}")),
    ],
    ids=["atom-entries-without-id", "rss-items-outside-channel"],
)
def test_a_new_upload_in_a_feed_the_scan_cannot_read_is_found(
    feeds: FeedServer, settings, head: str, tail: str, entry: str
) -> None:
    feed = HostileFeed(feeds, "shape", head=head, tail=tail)
    feed.items.append(entry.format("one"))
    channel = subscribe(make_user(), feed.url)
    assert poll(channel, settings).outcome == pipeline.UNCHANGED  # the first poll catalogs
    assert poll(channel, settings).outcome == pipeline.UNCHANGED

    feed.items.append(entry.format("two"))
    result = poll(channel, settings)

    assert result.outcome == pipeline.NEW and len(result.new_video_ids) == 1


# --- a catalog date no listing can show ------------------------------------------------------


def hostile_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make yt-dlp print a listing whose one item is dated 9999-12-31 -12:00."""
    listing = {
        "_type": "playlist",
        "entries": [
            {"id": "AAAAAAAAAAA", "ie_key": "Youtube", "title": "far", "timestamp": YEAR_10000},
            {"id": "BBBBBBBBBBB", "ie_key": "Youtube", "title": "nan", "timestamp": math.nan},
            {"id": "CCCCCCCCCCC", "ie_key": "Youtube", "title": "day", "upload_date": "99991231"},
        ],
    }
    monkeypatch.setattr(catalog.ytdlp_pool, "run", lambda args, **kw: json.dumps(listing))


@BOTH
def test_a_catalog_item_dated_past_year_9999_is_stored_without_a_date(
    feeds: FeedServer, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile_listing(monkeypatch)
    source = feeds.add_channel()
    channel = subscribe(make_user(), f"https://www.youtube.com/channel/{source.id}")

    assert poll(channel, settings).outcome == pipeline.UNCHANGED

    # 9999-12-31 is a date, but past the sane range (year 9000) too.
    assert {v.title: v.published_at for v in Video.select()} == {
        "far": None,
        "nan": None,
        "day": None,
    }


def test_listings_show_a_stored_time_no_datetime_holds(
    feeds: FeedServer, settings, database_url: str
) -> None:
    """A row written before dates were checked must not fail the API or the CLI."""
    caller = Caller(falcon.testing.TestClient(create_app(settings)), "alice")
    feed = rss_feed(feeds, "stored")
    feed.items.append(guid("a"))
    channel = subscribe(caller.user, feed.url)
    poll(channel, settings)
    Video.update(published_at=YEAR_10000).execute()

    for path in ("/api/videos", f"/api/channels/{channel.id}/videos"):
        result = caller.get(path)
        assert result.status_code == 200, (path, result.text)
        assert result.json["items"][0]["published_at"] is None
    assert videos(None, limit=10).items[0]["published_at"] is None

    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(TUBEPOLLER_DATABASE_URL=database_url, TUBEPOLLER_DATA_DIR=str(settings.data_dir))
    cli = subprocess.run(
        [sys.executable, "-m", "poller.cli", "video", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)[0]["published_at"] is None


# --- the functions ---------------------------------------------------------------------------


def test_server_hints_of_any_length_parse() -> None:
    assert parse_retry_after("9" * 400, 0.0) == MAX_HINT_S
    assert parse_max_age("public, max-age=" + "9" * 400) == MAX_HINT_S
    assert parse_retry_after("9" * 5000, 0.0) is None  # more digits than Python converts
    assert parse_retry_after("120", 0.0) == 120.0 and parse_max_age("max-age=60") == 60.0
    assert parse_retry_after("-5", 0.0) == 0.0


def test_only_printable_ascii_validators_that_fit_their_column_are_usable() -> None:
    assert MAX_ETAG == Channel.etag.max_length
    assert MAX_LAST_MODIFIED == Channel.last_modified.max_length
    assert usable_validator('W/"abc"', MAX_ETAG) == 'W/"abc"'
    for bad in ('"caf\u00e9"', '"a\x01b"', '"a\x7fb"', "", None, "e" * (MAX_ETAG + 1)):
        assert usable_validator(bad, MAX_ETAG) is None, bad


LIMITS = {"timeout": 5.0, "max_bytes": 1 << 20, "max_redirects": 5, "allow_private": True}


def test_fetch_does_not_send_a_validator_it_cannot_encode(feeds: FeedServer) -> None:
    url = feeds.set_raw("plain", b"<rss/>")
    result = fetch(url, etag='"caf\u00e9"', last_modified="\u00e9", **LIMITS)
    assert result.status == 200


def test_fetch_refuses_an_unparsable_redirect_clearly(feeds: FeedServer) -> None:
    feeds.routes["/raw/r"] = lambda h: h._send(301, b"", {"Location": "http://[::1"})  # type: ignore[attr-defined]
    with pytest.raises(PermanentError, match="invalid Location"):
        fetch(f"{feeds.base}/raw/r", **LIMITS)


def test_the_scan_leaves_an_unknown_encoding_to_the_parser() -> None:
    body = b'<?xml version="1.0" encoding="x-bogus"?><rss><channel><item><guid>a</guid></item>'
    body += b"</channel></rss>"
    assert scan_ids(body) is None
    assert [e.external_id for e in parse_feed(body).entries] == ["a"]


def test_dates_outside_the_sane_range_are_no_date() -> None:
    assert sane_epoch(0) == 0.0 and sane_epoch(1735689600) == 1735689600.0
    for bad in (-1, LATEST, YEAR_10000, math.nan, math.inf, 10**400, True, "1", None):
        assert sane_epoch(bad) is None, bad
    assert struct_epoch(time.struct_time((10000, 1, 1, 11, 0, 0, 5, 1, 0))) is None
    assert struct_epoch(time.gmtime(86400)) == 86400.0
    assert struct_epoch(None) is None


def test_iso_never_fails_on_a_stored_number() -> None:
    assert iso(0.0) == "1970-01-01T00:00:00Z"
    for bad in (YEAR_10000, math.nan, math.inf, -math.inf, 1e300):
        assert iso(bad) is None


def test_one_rule_for_ids_in_the_feed_and_the_catalog() -> None:
    assert external_id(" a\x00b\n") == "ab" and external_id("x" * MAX_ID) == "x" * MAX_ID
    first, second = external_id(LONG + "1"), external_id(LONG + "2")
    assert first != second and max(len(first), len(second)) <= MAX_ID
    assert first == external_id(LONG + "1")  # stable from poll to poll
    body = f'<rss version="2.0"><channel>{guid(LONG + "1")}</channel></rss>'.encode()
    from_feed = parse_feed(body).entries[0].external_id
    assert from_feed == catalog.video_id_from({"url": LONG + "1"}) == first
    assert scan_ids(body) == [first]


def test_catalog_dates_outside_the_sane_range_are_no_date() -> None:
    # a private helper, but the one place a listing's date enters
    published = catalog._published_at
    assert published({"timestamp": YEAR_10000}) is None
    assert published({"timestamp": math.inf}) is None
    assert published({"timestamp": 10**400}) is None
    assert published({"timestamp": 1735689600}) == 1735689600.0
    assert published({"upload_date": "20250101"}) == 1735689600.0
