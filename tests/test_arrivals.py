"""New ids of a poll: their kind, whether they are announced, when re-checked."""

from __future__ import annotations

from poller import arrivals, kinds
from poller.arrivals import Seen
from poller.window import START_MARGIN_S, UNKNOWN_START_RECHECK_S

NOW = 1_800_000_000.0
WINDOW = [NOW - 3600 * h for h in range(1, 15)]


def _sort(seen: list[Seen], **options: object) -> dict[str, arrivals.Arrival]:
    defaults: dict[str, object] = {
        "first_poll": False,
        "placed": {},
        "metadata": {},
        "known_in_window": WINDOW,
        "last_announced_at": NOW - 3600,
    }
    found = arrivals.sort_arrivals(seen, NOW, **{**defaults, **options})  # type: ignore[arg-type]
    return {a.external_id: a for a in found}


def test_new_uploads_take_the_kind_their_playlist_gave() -> None:
    got = _sort(
        [Seen("v", NOW), Seen("s", NOW), Seen("x", NOW)],
        placed={"v": kinds.VIDEO, "s": kinds.SHORT},
    )
    assert [got[i].media_type for i in "vsx"] == [kinds.VIDEO, kinds.SHORT, kinds.VIDEO]
    assert all(a.announce and not a.backfill and a.recheck_at is None for a in got.values())


def test_metadata_wins_over_the_playlist() -> None:
    got = _sort(
        [Seen("p", NOW)],
        placed={"p": kinds.VIDEO},
        metadata={"p": {"live_status": "is_upcoming", "release_timestamp": NOW + 600}},
    )["p"]
    assert got.media_type == kinds.UPCOMING and got.available_at == NOW + 600
    assert not got.announce and not got.backfill
    assert got.recheck_at == NOW + 600 + START_MARGIN_S


def test_a_start_time_in_the_feed_makes_an_upcoming_arrival() -> None:
    got = _sort([Seen("p", NOW, start_at=NOW + 60)], placed={"p": kinds.VIDEO})["p"]
    assert (got.media_type, got.available_at, got.announce) == (kinds.UPCOMING, NOW + 60, False)


def test_an_upcoming_arrival_without_a_start_is_rechecked_within_the_hour() -> None:
    got = _sort([Seen("p", NOW)], metadata={"p": {"live_status": "is_live"}})["p"]
    assert got.available_at is None and got.recheck_at == NOW + UNKNOWN_START_RECHECK_S


def test_the_first_poll_is_back_catalog_even_for_premieres() -> None:
    got = _sort([Seen("v", NOW), Seen("p", NOW, start_at=NOW + 60)], first_poll=True)
    assert all(a.backfill and not a.announce for a in got.values())
    assert got["p"].recheck_at is not None


def test_the_16th_sliding_back_is_cataloged_not_announced() -> None:
    got = _sort([Seen("old16", NOW - 3600 * 20), Seen("new", NOW)])
    assert got["old16"].backfill and not got["old16"].announce
    assert got["new"].announce


def test_a_gap_listed_upload_of_a_burst_is_announced_despite_its_rounded_date() -> None:
    # The 16th of a burst, listed as "1 day ago": older than the last
    # announced upload by its date, newer by its place in the listing.
    got = _sort([Seen("b16", NOW - 86400, listed=True)], known_in_window=[])["b16"]
    assert got.announce and not got.backfill


def test_members_only_is_cataloged_and_never_announced() -> None:
    got = _sort([Seen("m", NOW)], placed={"m": kinds.MEMBERS_ONLY})["m"]
    assert got.media_type == kinds.MEMBERS_ONLY and not got.announce and not got.backfill


def test_only_unplaced_ids_are_probed_newest_first_within_the_limit() -> None:
    placement = kinds.Placement({"a": kinds.VIDEO}, ("b", "c", "d"))
    assert arrivals.unplaced_to_probe(["a", "b", "c", "d"], placement, limit=2) == ["b", "c"]
    assert arrivals.unplaced_to_probe(["a"], kinds.Placement({"a": kinds.VIDEO}, ()), 5) == []
