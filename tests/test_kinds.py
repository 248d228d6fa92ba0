"""Media types, `include` sets and classification by playlist feed or yt-dlp metadata."""

from __future__ import annotations

import pytest

from poller import kinds
from poller.errors import UnknownKind
from poller.kinds import LIVE, MEMBERS_ONLY, SHORT, UPCOMING, VIDEO

CHANNEL = "UCabcdefghijklmnopqrstuv"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["video", "live"], (VIDEO, LIVE)),
        (["live", "video", "live"], (VIDEO, LIVE)),
        ("short", (SHORT,)),
        (" Short , VIDEO ", (VIDEO, SHORT)),
        (["short", "live", "video"], (VIDEO, SHORT, LIVE)),
    ],
)
def test_include_is_parsed_into_canonical_order(value: object, expected: tuple[str, ...]) -> None:
    assert kinds.parse_include(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [[], "", "clips", ["video", "upcoming"], ["members_only"], [3]])
def test_include_rejects_empty_and_unknown_kinds(value: object) -> None:
    with pytest.raises(UnknownKind):
        kinds.parse_include(value)  # type: ignore[arg-type]


def test_default_include_is_videos_and_lives() -> None:
    assert kinds.DEFAULT_INCLUDE == (VIDEO, LIVE)
    assert kinds.include_from_json(kinds.DEFAULT_INCLUDE_JSON) == (VIDEO, LIVE)


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '["bogus"]', "{}"])
def test_unreadable_stored_include_falls_back_to_the_default(text: str | None) -> None:
    assert kinds.include_from_json(text) == kinds.DEFAULT_INCLUDE


def test_include_round_trips_through_its_stored_form() -> None:
    stored = kinds.include_to_json(["short", "video"])
    assert stored == '["video", "short"]'
    assert kinds.include_from_json(stored) == (VIDEO, SHORT)


@pytest.mark.parametrize(
    ("include", "media_type", "wanted"),
    [
        ((VIDEO, LIVE), VIDEO, True),
        ((VIDEO, LIVE), SHORT, False),
        ((VIDEO, LIVE), LIVE, True),
        ((SHORT,), SHORT, True),
        ((SHORT,), UPCOMING, False),
        ((LIVE,), UPCOMING, True),
        ((VIDEO,), UPCOMING, True),
        ((VIDEO, SHORT, LIVE), MEMBERS_ONLY, False),
    ],
)
def test_a_subscriber_wants_only_the_kinds_it_includes(
    include: tuple[str, ...], media_type: str, wanted: bool
) -> None:
    assert kinds.wants(include, media_type) is wanted


def test_uploads_playlists_replace_the_uc_prefix() -> None:
    assert kinds.uploads_playlists(CHANNEL) == {
        "UU": "UUabcdefghijklmnopqrstuv",
        "UULF": "UULFabcdefghijklmnopqrstuv",
        "UUSH": "UUSHabcdefghijklmnopqrstuv",
        "UULV": "UULVabcdefghijklmnopqrstuv",
        "UUMO": "UUMOabcdefghijklmnopqrstuv",
    }


@pytest.mark.parametrize("bad", ["", "UC", "PLabc", "abcdef"])
def test_uploads_playlist_needs_a_channel_id(bad: str) -> None:
    with pytest.raises(ValueError, match="channel id"):
        kinds.uploads_playlist(bad, "UULF")


def test_nothing_is_asked_when_nothing_is_new() -> None:
    assert kinds.next_playlist([], {}) is None


def test_playlists_are_asked_long_form_first_until_every_id_is_placed() -> None:
    new = ["a", "b"]
    assert kinds.next_playlist(new, {}) == "UULF"
    assert kinds.next_playlist(new, {"UULF": ["a", "x"]}) == "UUSH"
    assert kinds.next_playlist(new, {"UULF": ["a"], "UUSH": ["b"]}) is None
    asked: dict[str, list[str] | None] = {"UULF": None, "UUSH": [], "UULV": []}
    assert kinds.next_playlist(new, asked) == "UUMO"
    asked["UUMO"] = []
    assert kinds.next_playlist(new, asked) is None


def test_one_long_form_feed_settles_a_poll_of_plain_videos() -> None:
    placement = kinds.place(["a", "b"], {"UULF": ["a", "b", "old"]})
    assert placement.kinds == {"a": VIDEO, "b": VIDEO}
    assert placement.unplaced == ()


def test_a_specific_playlist_wins_over_long_form() -> None:
    # Members-only uploads are listed in UULF too.
    placement = kinds.place(["m", "s"], {"UULF": ["m"], "UUSH": ["s"], "UUMO": ["m"]})
    assert placement.kinds == {"m": MEMBERS_ONLY, "s": SHORT}


def test_a_channel_without_long_form_falls_back_to_all_uploads() -> None:
    # UULF answered 404: the channel feed (UU) is all uploads, so an id in no
    # other playlist, once they were all read, is a plain video.
    asked = {"UULF": None, "UUSH": ["s"], "UULV": ["l"], "UUMO": []}
    placement = kinds.place(["v", "s", "l"], asked)
    assert placement.kinds == {"v": VIDEO, "s": SHORT, "l": LIVE}
    assert placement.unplaced == ()


def test_without_long_form_an_id_stays_unplaced_until_every_other_feed_was_read() -> None:
    placement = kinds.place(["v"], {"UULF": None, "UUSH": []})
    assert placement.unplaced == ("v",)


def test_an_id_no_feed_lists_yet_is_left_to_metadata() -> None:
    asked = {"UULF": ["a"], "UUSH": [], "UULV": [], "UUMO": []}
    assert kinds.place(["a", "late"], asked).unplaced == ("late",)


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"live_status": "not_live", "media_type": "video"}, VIDEO),
        ({"live_status": None}, VIDEO),
        ({}, VIDEO),
        ({"media_type": "short", "live_status": "not_live"}, SHORT),
        ({"url": "https://www.youtube.com/shorts/abcdefghijk"}, SHORT),
        ({"live_status": "was_live", "media_type": "livestream"}, LIVE),
        ({"live_status": "was_live"}, LIVE),
        ({"media_type": "livestream"}, LIVE),
        ({"live_status": "is_upcoming", "release_timestamp": 2_000_000_000}, UPCOMING),
        ({"live_status": "is_upcoming", "media_type": "short"}, UPCOMING),
        ({"live_status": "is_live", "media_type": "livestream"}, UPCOMING),
        ({"live_status": "post_live"}, UPCOMING),
        ({"availability": "subscriber_only", "live_status": "was_live"}, MEMBERS_ONLY),
        ({"availability": "needs_auth"}, VIDEO),
        ({"availability": "public", "media_type": "video"}, VIDEO),
    ],
)
def test_metadata_gives_the_media_type(info: dict[str, object], expected: str) -> None:
    assert kinds.from_metadata(info) == expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"release_timestamp": 2_000_000_000}, 2_000_000_000.0),
        ({"release_timestamp": None}, None),
        ({"release_timestamp": True}, None),
        ({"release_timestamp": "soon"}, None),
        ({}, None),
    ],
)
def test_start_time_is_the_release_timestamp(
    info: dict[str, object], expected: float | None
) -> None:
    assert kinds.start_time(info) == expected


def test_every_media_type_says_who_takes_it() -> None:
    assert set(kinds.INCLUDED_BY) == set(kinds.MEDIA_TYPES)
    assert all(set(taken) <= set(kinds.INCLUDABLE) for taken in kinds.INCLUDED_BY.values())


@pytest.mark.parametrize(
    ("media_type", "now"),
    [(VIDEO, True), (SHORT, True), (LIVE, True), (UPCOMING, False), (MEMBERS_ONLY, False)],
)
def test_only_watchable_kinds_are_announced(media_type: str, now: bool) -> None:
    assert kinds.announceable(media_type) is now
