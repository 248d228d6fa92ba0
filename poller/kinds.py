"""What kind of upload a video is, and which kinds a subscriber wants.

Pure functions, no I/O: the poll hands in the id sets of the playlist feeds
it fetched, or yt-dlp's metadata of one video, and gets a media type back.
Only ids a poll finds new are classified, so an unchanged poll still costs
its one request (see DESIGN.md and YOUTUBE-NOTES.md, "Uploads playlists").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import UnknownKind

VIDEO = "video"
SHORT = "short"
LIVE = "live"  # a past stream, watchable as a recording
UPCOMING = "upcoming"  # a premiere or scheduled stream, not watchable yet
MEMBERS_ONLY = "members_only"
MEDIA_TYPES = (VIDEO, SHORT, LIVE, UPCOMING, MEMBERS_ONLY)

# What a subscriber can ask for. Upcoming is a state, not a kind: a premiere
# becomes a video and a scheduled stream a live. Members-only needs a member's
# cookies, which tubepoller does not hold, so no one can choose it yet.
INCLUDABLE = (VIDEO, SHORT, LIVE)
# Shorts are left out by default: most people who follow a channel for its
# videos do not want its shorts in their feed and on their disk.
DEFAULT_INCLUDE = (VIDEO, LIVE)
DEFAULT_INCLUDE_JSON = json.dumps(list(DEFAULT_INCLUDE))


def parse_include(value: str | Iterable[str]) -> tuple[str, ...]:
    """Return the `include` set named by `value`, in canonical order.

    Args:
        value: a list of kinds, or their comma-separated names (the CLI's
            ``--include video,short``).

    Raises:
        UnknownKind: a name is not one of INCLUDABLE, or none is given. An
            empty set would catalog a channel for nobody: unsubscribe instead.
    """
    names = value.split(",") if isinstance(value, str) else list(value)
    wanted = set()
    for name in names:
        if not isinstance(name, str):
            raise UnknownKind(f"include: {name!r} is not a kind name")
        name = name.strip().lower()
        if name not in INCLUDABLE:
            raise UnknownKind(
                f"include: unknown kind {name!r} (choose from {', '.join(INCLUDABLE)})"
            )
        wanted.add(name)
    if not wanted:
        raise UnknownKind(f"include: name at least one of {', '.join(INCLUDABLE)}")
    return tuple(kind for kind in INCLUDABLE if kind in wanted)


def include_to_json(include: Iterable[str]) -> str:
    """Return the stored form of an `include` set (Subscription.include)."""
    return json.dumps(list(parse_include(include)))


def include_from_json(text: str | None) -> tuple[str, ...]:
    """Return the `include` set stored as `text`; the default when unreadable.

    A row written before the column existed, or edited by hand, must not stop
    a poll: falling back to the default is what the subscriber had before.
    """
    try:
        return parse_include(json.loads(text or ""))
    except (ValueError, TypeError, UnknownKind):
        return DEFAULT_INCLUDE


# Which `include` entries take a video of each media type. An upcoming video
# is taken by either kind it can turn into (video for a premiere, live for a
# stream): it is referenced then, announced only once watchable. Members-only
# is taken by none (no cookies). The store builds its SQL filter from this.
INCLUDED_BY: dict[str, tuple[str, ...]] = {
    VIDEO: (VIDEO,),
    SHORT: (SHORT,),
    LIVE: (LIVE,),
    UPCOMING: (VIDEO, LIVE),
    MEMBERS_ONLY: (),
}


def wants(include: Iterable[str], media_type: str) -> bool:
    """Tell whether a subscriber with `include` gets a video of `media_type`."""
    return bool(set(include) & set(INCLUDED_BY.get(media_type, ())))


def announceable(media_type: str) -> bool:
    """Tell whether a video of `media_type` may be announced and downloaded now.

    An upcoming one cannot be watched yet: its new_episode waits for the
    re-check that finds it watchable (see poller.window.recheck_at).
    """
    return media_type in (VIDEO, SHORT, LIVE)


# Uploads playlists: the channel id with its "UC" replaced by a prefix.
ALL_UPLOADS = "UU"
LONG_FORM = "UULF"
SHORTS = "UUSH"
PAST_LIVES = "UULV"
MEMBERS = "UUMO"
PLAYLIST_KINDS = {LONG_FORM: VIDEO, SHORTS: SHORT, PAST_LIVES: LIVE, MEMBERS: MEMBERS_ONLY}
# The order the feeds are asked in, stopping once every new id is placed:
# long-form first because most uploads are videos, so one request usually
# settles a poll; members-only last because it is the rarest.
CLASSIFY_ORDER = (LONG_FORM, SHORTS, PAST_LIVES, MEMBERS)


def uploads_playlist(channel_id: str, prefix: str) -> str:
    """Return the id of a channel's uploads playlist of `prefix` (UU, UULF…).

    Raises:
        ValueError: `channel_id` is not a ``UC…`` id.
    """
    if not channel_id.startswith("UC") or len(channel_id) < 3:
        raise ValueError(f"not a YouTube channel id: {channel_id!r}")
    return prefix + channel_id[2:]


def uploads_playlists(channel_id: str) -> dict[str, str]:
    """Return every uploads playlist id of a channel, keyed by prefix."""
    return {p: uploads_playlist(channel_id, p) for p in (ALL_UPLOADS, *CLASSIFY_ORDER)}


@dataclass(frozen=True)
class Placement:
    """What classifying new ids by playlist feeds found.

    Attributes:
        kinds: media type of each id placed.
        unplaced: ids no feed settled (left to yt-dlp metadata, or VIDEO).
    """

    kinds: dict[str, str]
    unplaced: tuple[str, ...]


def next_playlist(new_ids: Iterable[str], asked: Mapping[str, Sequence[str] | None]) -> str | None:
    """Return the prefix of the next playlist feed to fetch, or None when done.

    Args:
        new_ids: the ids this poll found new.
        asked: the feeds fetched so far, prefix → their ids, or None for a
            feed that answered 404 (the channel has no such playlist).

    A feed is worth a request only while some new id is still unplaced.
    """
    pending = set(new_ids) - {i for ids in asked.values() if ids for i in ids}
    if not pending:
        return None
    return next((p for p in CLASSIFY_ORDER if p not in asked), None)


def place(new_ids: Sequence[str], asked: Mapping[str, Sequence[str] | None]) -> Placement:
    """Classify `new_ids` from the playlist feeds fetched for them.

    Args:
        new_ids: the ids the poll found new, in feed order.
        asked: prefix → ids of that playlist feed, None when it answered 404.

    A specific playlist (shorts, lives, members) wins over long-form: should
    an id sit in both (a members-only video in UULF, say), the narrower list
    says more, and members-only matters most since it cannot be fetched. When UULF is missing
    (some channels have none) the channel feed itself is UU, all uploads:
    once UUSH, UULV and UUMO were all read, an id in none of them is a video.
    An id absent from a UULF that was read, and from every other, stays
    unplaced: the feeds lag the upload by minutes, and guessing would file a
    short as a video for good.
    """
    kinds: dict[str, str] = {}
    for prefix in (MEMBERS, SHORTS, PAST_LIVES, LONG_FORM):
        for vid in asked.get(prefix) or ():
            kinds.setdefault(vid, PLAYLIST_KINDS[prefix])
    others_read = all(p in asked for p in (SHORTS, PAST_LIVES, MEMBERS))
    no_long_form = LONG_FORM in asked and asked[LONG_FORM] is None
    placed: dict[str, str] = {}
    unplaced = []
    for vid in new_ids:
        if vid in kinds:
            placed[vid] = kinds[vid]
        elif no_long_form and others_read:
            placed[vid] = VIDEO
        else:
            unplaced.append(vid)
    return Placement(placed, tuple(unplaced))


# yt-dlp availability values that mean "channel members only".
_MEMBERS_AVAILABILITY = {"subscriber_only"}
# live_status values that are not yet a finished, downloadable recording:
# is_live is still streaming, post_live is a recording not processed yet.
_NOT_WATCHABLE = {"is_upcoming", "is_live", "post_live"}


def from_metadata(info: Mapping[str, Any]) -> str:
    """Return the media type yt-dlp's metadata of one video says.

    Args:
        info: a yt-dlp info dict, full (``-j``) or a flat-listing entry.

    Members-only is checked first: such a video cannot be fetched whatever
    its kind. Then the live state, since an upcoming short or premiere is
    not watchable yet either. A flat entry has no media_type; its URL says
    /shorts/ for a short.
    """
    if info.get("availability") in _MEMBERS_AVAILABILITY:
        return MEMBERS_ONLY
    live_status = info.get("live_status")
    if live_status in _NOT_WATCHABLE:
        return UPCOMING
    if live_status == "was_live" or info.get("was_live") is True:
        return LIVE
    if info.get("media_type") == "short" or "/shorts/" in str(info.get("url") or ""):
        return SHORT
    if info.get("media_type") == "livestream":
        # A livestream that is neither upcoming nor live is a past one.
        return LIVE
    return VIDEO


def start_time(info: Mapping[str, Any]) -> float | None:
    """Return when an upcoming video starts (release_timestamp), if known."""
    value = info.get("release_timestamp")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None
