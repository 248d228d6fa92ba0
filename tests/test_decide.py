"""What a poll does next, decided from what it has seen: a table, no database, no network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from poller.decide import (
    NOT_MODIFIED,
    UNCHANGED,
    ChannelState,
    FetchPlaylist,
    FinishUnchanged,
    Gate,
    ListCatalog,
    Listing,
    LoadGates,
    LoadUpcoming,
    Observed,
    Parse,
    Probe,
    StoreEntries,
    Upcoming,
    already_polled,
    next_step,
)
from poller.fetch import FetchResult
from poller.models import CATALOG_ONLY, FUTURE_ONLY
from poller.parse import Entry, ParsedFeed
from poller.schedule import Bounds

NOW = 1_000_000.0
BOUNDS = Bounds(300, 86400)
CATALOG = "https://www.youtube.com/channel/UC1/videos"

OK = FetchResult(200, b"<feed/>", '"v2"', None, None, None)
NOT_CHANGED = FetchResult(304, b"", None, None, None, None)

POLLED = ChannelState(
    polled_before=True, cataloged=True, upload_times=[NOW - 7200], catalog_url=CATALOG
)
FIRST = replace(POLLED, polled_before=False, cataloged=False, upload_times=[])
PLAIN_FEED = replace(POLLED, catalog_url=None)


def entry(external_id: str, published_at: float | None = NOW - 60) -> Entry:
    return Entry(
        external_id, external_id.upper(), f"https://example.org/{external_id}", published_at
    )


def feed(*ids: str) -> ParsedFeed:
    return ParsedFeed("Chan", [entry(i) for i in ids])


OLD, NEW_ONE = "old", "new"
SUBSCRIBED = [Gate(FUTURE_ONLY, NOW - 3600)]


@pytest.mark.parametrize(
    "seen, expected",
    [
        pytest.param(Observed(POLLED, NOT_CHANGED), FinishUnchanged, id="304"),
        pytest.param(Observed(FIRST, NOT_CHANGED), ListCatalog, id="304-but-never-cataloged"),
        pytest.param(
            Observed(POLLED, OK, scanned=frozenset({OLD}), known=frozenset({OLD})),
            FinishUnchanged,
            id="scan-finds-nothing-new",
        ),
        pytest.param(
            Observed(POLLED, OK, scanned=frozenset(), known=frozenset()),
            FinishUnchanged,
            id="scan-reads-no-ids",
        ),
        pytest.param(
            Observed(POLLED, OK, scanned=frozenset({OLD, NEW_ONE}), known=frozenset({OLD})),
            Parse,
            id="scan-finds-an-unseen-id",
        ),
        pytest.param(Observed(POLLED, OK, scanned=None), Parse, id="scan-cannot-read-body"),
        pytest.param(
            Observed(FIRST, OK, scanned=frozenset({OLD}), known=frozenset()),
            Parse,
            id="first-poll-parses",
        ),
        pytest.param(
            Observed(FIRST, OK, feed=feed(OLD)), ListCatalog, id="first-poll-lists-catalog"
        ),
        pytest.param(
            Observed(POLLED, OK, known=frozenset({OLD}), feed=feed(OLD, NEW_ONE)),
            LoadGates,
            id="new-upload-needs-gating-data",
        ),
        pytest.param(
            Observed(POLLED, OK, feed=feed(NEW_ONE, "other")),
            ListCatalog,
            id="whole-window-new-is-a-gap",
        ),
        pytest.param(
            Observed(PLAIN_FEED, OK, feed=feed(NEW_ONE, "other"), gates=SUBSCRIBED),
            StoreEntries,
            id="plain-feed-has-no-catalog-to-list",
        ),
        pytest.param(
            Observed(POLLED, OK, feed=feed(NEW_ONE), catalog=Listing(), gates=[]),
            StoreEntries,
            id="gap-listed",
        ),
    ],
)
def test_each_step_of_a_poll_is_decided_from_what_it_has_seen(
    seen: Observed, expected: type
) -> None:
    assert type(next_step(seen, NOW, BOUNDS)) is expected


@pytest.mark.parametrize(
    "response, outcome", [(NOT_CHANGED, NOT_MODIFIED), (OK, UNCHANGED)], ids=["304", "200"]
)
def test_an_unchanged_poll_reschedules_and_keeps_the_validators(
    response: FetchResult, outcome: str
) -> None:
    seen = Observed(POLLED, response, scanned=frozenset({OLD}), known=frozenset({OLD}))
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, FinishUnchanged) and step.outcome == outcome
    assert NOW + BOUNDS.min_s <= step.reschedule.next_poll_at <= NOW + BOUNDS.max_s
    assert step.reschedule.etag == response.etag


def test_a_servers_hint_pushes_the_next_poll_out() -> None:
    hinted = replace(OK, max_age_s=40_000.0)
    seen = Observed(POLLED, hinted, scanned=frozenset(), known=frozenset())
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, FinishUnchanged)
    assert step.reschedule.next_poll_at == NOW + 40_000


def test_a_first_poll_stores_everything_as_back_catalog() -> None:
    listing = Listing([entry(OLD), entry("older")])
    step = next_step(Observed(FIRST, OK, feed=feed(OLD), catalog=listing), NOW, BOUNDS)
    assert isinstance(step, StoreEntries)
    assert step.announced == [] and step.download_ids == frozenset()
    assert [e.external_id for e in step.back_catalog] == [OLD, "older"]
    assert step.catalog_error is None and step.title == "Chan"


def test_new_uploads_are_announced_and_the_catalog_back_fills() -> None:
    # The gap listing's entry from before the last good poll is back catalog.
    listing = Listing([entry(NEW_ONE), entry("older", NOW - 7200)])
    seen = Observed(
        replace(POLLED, last_good_poll=NOW - 3600),
        OK,
        feed=feed(NEW_ONE),
        catalog=listing,
        gates=SUBSCRIBED,
        known=frozenset(),
    )
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, StoreEntries)
    assert [e.external_id for e in step.announced] == [NEW_ONE]
    assert [e.external_id for e in step.back_catalog] == ["older"]
    assert step.download_ids == {NEW_ONE}
    assert NOW - 60 in step.history


def test_a_gap_listing_entry_above_the_known_ones_is_a_new_upload() -> None:
    # A burst of 16: the feed shows 15, the listing the 16th above what the
    # channel had; its (approximate) date says nothing, its place does.
    burst = [f"b{i:02d}" for i in range(16)]
    known = frozenset({OLD})
    listing = Listing(
        [entry(i, None) for i in reversed(burst)] + [entry(OLD, NOW - 86400)], known=known
    )
    seen = Observed(
        replace(POLLED, last_good_poll=NOW - 600),
        OK,
        feed=feed(*reversed(burst[1:])),
        catalog=listing,
        gates=SUBSCRIBED,
    )
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, StoreEntries)
    assert sorted(e.external_id for e in step.announced) == burst
    assert step.back_catalog == [] and step.download_ids == set(burst)


def test_an_entry_that_slides_back_into_the_window_is_not_announced() -> None:
    # One of the 15 was deleted: the 16th, older than every entry the feed
    # showed before, comes back looking new.
    shown = [entry(f"k{i:02d}", NOW - 3600 * (i + 1)) for i in range(14)]
    back = entry("slid", NOW - 3600 * 20)
    upload = ParsedFeed("Chan", [*shown, back])
    seen = Observed(
        POLLED, OK, feed=upload, known=frozenset(e.external_id for e in shown), gates=SUBSCRIBED
    )
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, StoreEntries)
    assert step.announced == [] and [e.external_id for e in step.back_catalog] == ["slid"]


def test_a_failed_listing_is_stored_as_its_error() -> None:
    step = next_step(
        Observed(FIRST, OK, feed=feed(OLD), catalog=Listing(error="boom")), NOW, BOUNDS
    )
    assert isinstance(step, StoreEntries) and step.catalog_error == "boom"
    assert [e.external_id for e in step.back_catalog] == [OLD]


@pytest.mark.parametrize(
    "gates, published_at, downloaded",
    [
        pytest.param(SUBSCRIBED, NOW - 60, True, id="future-only-after-subscribing"),
        pytest.param(SUBSCRIBED, NOW - 7200, False, id="published-before-subscribing"),
        pytest.param(SUBSCRIBED, None, True, id="undated-counts-as-seen-now"),
        pytest.param([Gate(CATALOG_ONLY, NOW - 3600)], NOW - 60, False, id="catalog-only"),
        pytest.param(
            [Gate(CATALOG_ONLY, NOW - 3600), *SUBSCRIBED], NOW - 60, True, id="any-subscriber"
        ),
        pytest.param([], NOW - 60, False, id="no-subscriber"),
    ],
)
def test_download_gating_is_part_of_the_decision(
    gates: list[Gate], published_at: float | None, downloaded: bool
) -> None:
    upload = ParsedFeed("Chan", [entry(NEW_ONE, published_at)])
    seen = Observed(PLAIN_FEED, OK, feed=upload, gates=gates)
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, StoreEntries)
    assert (NEW_ONE in step.download_ids) is downloaded


@pytest.mark.parametrize(
    ("last_done_at", "claimed_until", "sent_at", "served"),
    [
        (105.0, 0.0, 100.0, True),  # polled after the send, claim released
        (95.0, 0.0, 100.0, False),  # the last poll is older than the message
        (105.0, 500.0, 100.0, False),  # a retry keeps the claim: not done
        (None, 0.0, 100.0, False),  # never polled
        (105.0, 0.0, None, False),  # no timestamp: poll
    ],
)
def test_a_redelivered_message_is_served_once(
    last_done_at: float | None, claimed_until: float, sent_at: float | None, served: bool
) -> None:
    assert already_polled(last_done_at, claimed_until, sent_at, now=200.0) is served


YT = replace(POLLED, playlists_of="UC1")


def test_new_ids_of_a_youtube_channel_are_placed_by_its_playlists_then_yt_dlp() -> None:
    seen = Observed(YT, OK, feed=feed(OLD, NEW_ONE), known=frozenset({OLD}))
    assert next_step(seen, NOW, BOUNDS) == FetchPlaylist("UULF")
    # Not a long-form video: the shorts, the lives, the members' lists, then yt-dlp.
    asked: dict[str, list[str] | None] = {"UULF": [OLD]}
    for prefix in ("UUSH", "UULV", "UUMO"):
        assert next_step(replace(seen, playlists=asked), NOW, BOUNDS) == FetchPlaylist(prefix)
        asked[prefix] = []
    assert next_step(replace(seen, playlists=asked), NOW, BOUNDS) == Probe((NEW_ONE,))
    upcoming = {NEW_ONE: {"live_status": "is_upcoming", "release_timestamp": NOW + 3600}}
    step = next_step(replace(seen, playlists=asked, metadata=upcoming), NOW, BOUNDS)

    assert isinstance(step, StoreEntries)  # nothing to announce: no gates asked for
    [video] = step.videos
    assert (video.arrival.media_type, video.arrival.announce) == ("upcoming", False)
    assert step.upcoming_due_at == NOW + 3600 + 300
    assert step.reschedule.next_poll_at <= step.upcoming_due_at


def test_a_short_placed_by_its_playlist_costs_one_more_request_and_no_probe() -> None:
    seen = Observed(
        YT,
        OK,
        feed=feed(OLD, NEW_ONE),
        known=frozenset({OLD}),
        playlists={"UULF": [OLD], "UUSH": [NEW_ONE]},
        gates=SUBSCRIBED,
    )
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, StoreEntries)
    assert [v.arrival.media_type for v in step.videos] == ["short"]
    # The default include takes no shorts: cataloged, not downloaded.
    assert step.download_ids == frozenset()


def test_a_due_re_check_loads_the_upcoming_videos_and_reads_the_feed() -> None:
    due = replace(YT, upcoming_due_at=NOW - 1)
    assert isinstance(next_step(Observed(due, NOT_CHANGED), NOW, BOUNDS), LoadUpcoming)
    waiting = Upcoming(7, NEW_ONE, NOW - 600, NOW - 3600, NOW - 7200, NOW - 7200, False)
    scanned = Observed(
        due, OK, scanned=frozenset({OLD}), known=frozenset({OLD}), upcoming=[waiting]
    )
    assert isinstance(next_step(scanned, NOW, BOUNDS), Parse)  # not "unchanged"
    started = replace(
        scanned,
        feed=feed(OLD, NEW_ONE),
        known=frozenset({OLD, NEW_ONE}),
        playlists={"UULF": [NEW_ONE, OLD]},
        gates=SUBSCRIBED,
    )
    step = next_step(started, NOW, BOUNDS)
    assert isinstance(step, StoreEntries)
    assert step.rechecked.started == {7: "video"} and step.rechecked.download_ids == {7}
    assert step.upcoming_due_at is None


def test_a_podcast_episode_older_than_the_others_is_still_new() -> None:
    # Only a YouTube channel's feed is a window an old entry slides back into.
    episodes = [entry(f"ep{i}", NOW - 86400 * (i + 1)) for i in range(5)]
    late = entry("late", NOW - 86400 * 30)
    seen = Observed(
        PLAIN_FEED,
        OK,
        feed=ParsedFeed("Pod", [*episodes, late]),
        known=frozenset(e.external_id for e in episodes),
        gates=SUBSCRIBED,
    )
    step = next_step(seen, NOW, BOUNDS)
    assert isinstance(step, StoreEntries) and [e.external_id for e in step.announced] == ["late"]
