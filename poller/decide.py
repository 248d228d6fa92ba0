"""What one poll does next, decided from what it has seen so far (pure).

The pipeline gathers facts (the fetch result, the ids the scan read, which
of them are stored, the parsed feed, the catalog listing, the subscriptions'
gating data, the uploads playlists and yt-dlp's metadata of new ids, the
channel's upcoming videos) into an `Observed` and asks `next_step` what to
do; the answer is an intent the pipeline applies: parse the body, list the
catalog, read a playlist feed, probe ids with yt-dlp, load the gating data
or the upcoming videos, finish unchanged, or store these entries (what each
new video is comes from `poller.arrivals`, re-checks from `poller.recheck`). Nothing here touches
the database, the network or the clock, so every path of a poll is a row in
a table test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import cadence, kinds, window
from .arrivals import Arrival, Seen, sort_arrivals
from .fetch import FetchResult
from .gating import Gate, should_download
from .parse import Entry, ParsedFeed
from .recheck import Rechecked, Upcoming, due, next_recheck, recheck, started_downloads
from .schedule import Bounds, interval_after_success, merge_history, next_poll_at

NOT_MODIFIED = "not_modified"
UNCHANGED = "unchanged"
NEW = "new"

_NO_FEED = ParsedFeed(title="", entries=[])


def already_polled(
    last_done_at: float | None, claimed_until: float, sent_at: float | None, now: float
) -> bool:
    """True when a redelivered poll message was served before its worker died.

    A worker killed between finishing a poll and acknowledging its message
    gets that message delivered again. The poll ended after the message was
    sent (`last_done_at`, its last success or failure) and released its claim,
    so fetching again would only cost the host a request. A poll that kept its
    claim for a retry is not done.
    """
    if sent_at is None or last_done_at is None:
        return False
    return claimed_until < now and last_done_at >= sent_at


@dataclass(frozen=True)
class ChannelState:
    """What the poll knows of its channel before fetching."""

    polled_before: bool  # False on the first poll: everything is back catalog
    cataloged: bool  # the whole catalog was listed once
    upload_times: Sequence[float]  # recent upload times, oldest first
    catalog_url: str | None  # where yt-dlp lists the catalog; None when the feed is it
    warning: str | None = None  # what the last body read was wrong with (a recovered feed)
    # The UC… id whose uploads playlists classify new ids; None: no playlists
    # (a feed, a playlist source), every new id is a video.
    playlists_of: str | None = None
    last_good_poll: float | None = None  # when the channel last polled fine
    upcoming_due_at: float | None = None  # earliest re-check of its upcoming videos
    # Its host's routine budget; None: not budgeted (no host), today's rule.
    host_share: cadence.HostShare | None = None


@dataclass(frozen=True)
class Listing:
    """The outcome of listing a channel's catalog."""

    entries: Sequence[Entry] = ()
    error: str | None = None  # why the listing failed; it is tried again next poll
    kinds: Mapping[str, str] = field(default_factory=dict)  # id → media type it gave
    starts: Mapping[str, float] = field(default_factory=dict)  # upcoming id → start
    known: frozenset[str] = frozenset()  # which listed ids the channel already has


@dataclass(frozen=True)
class Observed:
    """The facts of one poll so far; None fields are not gathered yet."""

    channel: ChannelState
    response: FetchResult
    scanned: frozenset[str] | None = None  # ids the scan read; None when it could not
    known: frozenset[str] = frozenset()  # which scanned or parsed ids are stored
    feed: ParsedFeed | None = None
    catalog: Listing | None = None
    gates: Sequence[Gate] | None = None
    # prefix → ids of the uploads playlist feeds read (None: it answered 404).
    playlists: Mapping[str, Sequence[str] | None] = field(default_factory=dict)
    metadata: Mapping[str, Mapping[str, Any]] | None = None  # yt-dlp's, of probed ids
    upcoming: Sequence[Upcoming] | None = None  # loaded when a re-check is due


@dataclass(frozen=True)
class Reschedule:
    """The channel's poll state after a poll; None fields are left as they are."""

    next_poll_at: float
    interval_s: float
    etag: str | None = None
    last_modified: str | None = None
    weight: float | None = None  # its share of the host's budget (poller/cadence.py)


@dataclass(frozen=True)
class Parse:
    """Parse the body: the scan could not read it, or it holds unseen ids."""


@dataclass(frozen=True)
class ListCatalog:
    """List the whole catalog at `url`: a first poll, or a gap in the feed."""

    url: str


@dataclass(frozen=True)
class LoadGates:
    """Load the subscriptions' gating data: new uploads may be downloaded."""


@dataclass(frozen=True)
class LoadUpcoming:
    """Load the channel's upcoming videos: a re-check of some is due."""


@dataclass(frozen=True)
class FetchPlaylist:
    """Read the channel's uploads playlist feed of `prefix` (UULF, UUSH…)."""

    prefix: str


@dataclass(frozen=True)
class Probe:
    """Ask yt-dlp for the metadata of ids no playlist feed placed."""

    external_ids: tuple[str, ...]


@dataclass(frozen=True)
class NewVideo:
    """One entry to store, and what it is."""

    entry: Entry
    arrival: Arrival


@dataclass(frozen=True)
class FinishUnchanged:
    """Reschedule the channel; nothing is stored."""

    outcome: str  # NOT_MODIFIED | UNCHANGED
    reschedule: Reschedule
    warning: str | None  # the channel's warning from now on (None clears it)


@dataclass(frozen=True)
class StoreEntries:
    """Store these entries (each may already be stored) and reschedule."""

    videos: list[NewVideo]  # new entries: announced ones, upcoming ones, back catalog
    download_ids: frozenset[str]  # external ids of the announced entries to download
    rechecked: Rechecked  # the due upcoming videos, looked at again
    upcoming_due_at: float | None  # the channel's next re-check after this poll
    history: list[float]  # upload times with the new ones merged in
    reschedule: Reschedule
    catalog_error: str | None  # None marks the channel cataloged
    title: str  # the channel's title from the feed ('' keeps it)
    warning: str | None = None  # the channel's warning from now on (None clears it)

    @property
    def announced(self) -> list[Entry]:
        """Return the entries announced as new uploads."""
        return [v.entry for v in self.videos if v.arrival.announce]

    @property
    def back_catalog(self) -> list[Entry]:
        """Return the entries stored as back catalog."""
        return [v.entry for v in self.videos if v.arrival.backfill]


Decision = (
    Parse
    | ListCatalog
    | LoadGates
    | LoadUpcoming
    | FetchPlaylist
    | Probe
    | FinishUnchanged
    | StoreEntries
)

# yt-dlp metadata requests one poll may make (each is several page loads):
# a burst of unplaced ids is filed by the playlists' rule, not probed one by one.
PROBE_LIMIT = 3


def next_step(seen: Observed, now: float, bounds: Bounds) -> Decision:
    """Return what the poll does next, given what it has seen.

    Args:
        seen: the facts gathered so far.
        now: the current time, epoch seconds.
        bounds: the shortest and longest poll interval.
    """
    channel, response = seen.channel, seen.response
    # A re-check of upcoming videos is due: this poll looks at them again,
    # whatever the feed says, and writes the channel's next re-check.
    is_due = channel.upcoming_due_at is not None and channel.upcoming_due_at <= now
    if is_due and seen.upcoming is None:
        return LoadUpcoming()
    if response.status == 304 and channel.cataloged and not is_due:
        plan = reschedule(
            channel.upload_times, now, bounds, response, channel.upcoming_due_at, channel.host_share
        )
        return FinishUnchanged(NOT_MODIFIED, plan, channel.warning)  # the body is as it was
    if response.status != 304 and seen.feed is None:
        # Most polls end here: every id the scan read is stored, nothing is parsed.
        unchanged = seen.scanned is not None and seen.scanned <= seen.known
        if unchanged and channel.cataloged and not is_due:
            plan = reschedule(
                channel.upload_times,
                now,
                bounds,
                response,
                channel.upcoming_due_at,
                channel.host_share,
            )
            return FinishUnchanged(UNCHANGED, plan, None)  # well-formed: the scan read it
        return Parse()

    feed = seen.feed or _NO_FEED  # a 304 on a channel still to be cataloged
    fresh = [e for e in feed.entries if e.external_id not in seen.known]
    # The feed is a window of the latest uploads: when all of it is new on a
    # channel we polled before, uploads may have slipped past unseen.
    gap = channel.polled_before and bool(feed.entries) and len(fresh) == len(feed.entries)
    if seen.catalog is None and (not channel.cataloged or gap) and channel.catalog_url:
        return ListCatalog(channel.catalog_url)

    listing = seen.catalog or Listing()
    fresh_ids = {e.external_id for e in fresh}
    others = [e for e in listing.entries if e.external_id not in fresh_ids]
    listed = [e for e in others if e.external_id not in listing.known]
    # A gap listing's head, above what the channel already had, is uploads
    # the feed's window let slip: new uploads, not back catalog.
    listed_new = set(
        window.listing_new_uploads(
            [(e.external_id, e.published_at) for e in others],
            listing.known,
            channel.last_good_poll or 0.0,
        )
        if gap
        else ()
    )
    rechecks = due(seen.upcoming or (), now) if is_due else []
    targets = [e.external_id for e in fresh] + [u.external_id for u in rechecks]
    if channel.playlists_of and targets:
        prefix = kinds.next_playlist(targets, seen.playlists)
        if prefix is not None:
            return FetchPlaylist(prefix)
        placement = kinds.place(targets, seen.playlists)
        in_lists = {i for ids in seen.playlists.values() if ids for i in ids}
        # A new id the playlists left unplaced goes to yt-dlp; one the
        # fallback rule placed (no UULF: "in none of the others is a video")
        # does not. A re-check is settled only by a list that shows it.
        unplaced = set(placement.unplaced)
        probe = [e.external_id for e in fresh if e.external_id in unplaced]
        probe += [u.external_id for u in rechecks if u.external_id not in in_lists]
        if probe and seen.metadata is None:
            return Probe(tuple(probe[:PROBE_LIMIT]))
    else:
        placement = kinds.Placement({}, ())
        in_lists = set()
    metadata = seen.metadata or {}

    # Only a channel's feed is a window that entries slide back into; a
    # podcast's lists every episode, and an old one it adds is still new.
    windowed = channel.catalog_url is not None
    known_dates = [e.published_at for e in feed.entries if e.external_id in seen.known]
    arrived = sort_arrivals(
        [Seen(e.external_id, e.published_at) for e in fresh]
        + [
            Seen(e.external_id, e.published_at, listing.starts.get(e.external_id), listed=True)
            for e in listed
            if e.external_id in listed_new
        ],
        now,
        first_poll=not channel.polled_before,
        placed={**listing.kinds, **placement.kinds},
        metadata=metadata,
        known_in_window=known_dates if windowed else [],
        last_announced_at=max(channel.upload_times, default=None) if windowed else None,
    )
    by_id = {e.external_id: e for e in [*fresh, *listed]}
    videos = [NewVideo(by_id[a.external_id], a) for a in arrived]
    videos += [
        NewVideo(e, _back_catalog(e, listing, now))
        for e in listed
        if e.external_id not in listed_new
    ]
    rechecked = recheck(rechecks, placement, in_lists, metadata, seen.feed, now)
    started = [u for u in rechecks if u.video_id in rechecked.started]
    announcing = any(v.arrival.announce for v in videos) or any(
        kinds.announceable(rechecked.started[u.video_id]) and not u.backfill for u in started
    )
    if announcing and seen.gates is None:
        return LoadGates()

    gates = seen.gates or ()
    # Even back catalog's dates tell how often the channel uploads.
    uploads = [*fresh, *(e for e in listed if e.external_id in listed_new)]
    history = merge_history(channel.upload_times, [e.published_at or now for e in uploads])
    due_at = next_recheck(
        channel.upcoming_due_at,
        seen.upcoming if is_due else None,
        rechecks,
        rechecked,
        [v.arrival.recheck_at for v in videos if v.arrival.recheck_at is not None],
        now,
    )
    return StoreEntries(
        videos=videos,
        download_ids=wanted(videos, gates, now),
        rechecked=replace(
            rechecked, download_ids=started_downloads(started, rechecked, gates, now)
        ),
        upcoming_due_at=due_at,
        history=history,
        reschedule=reschedule(history, now, bounds, response, due_at, channel.host_share),
        catalog_error=listing.error,
        title=feed.title,
        warning=feed.warning if seen.feed is not None else channel.warning,
    )


def _back_catalog(entry: Entry, listing: Listing, now: float) -> Arrival:
    """Return how a back-catalog entry of a listing is stored."""
    media_type = listing.kinds.get(entry.external_id, kinds.VIDEO)
    upcoming = media_type == kinds.UPCOMING
    start = listing.starts.get(entry.external_id) if upcoming else None
    return Arrival(
        external_id=entry.external_id,
        media_type=media_type,
        available_at=start,
        backfill=True,
        announce=False,
        recheck_at=window.recheck_at(start, now) if upcoming else None,
    )


def wanted(videos: Sequence[NewVideo], gates: Sequence[Gate], now: float) -> frozenset[str]:
    """Return the ids of the new uploads some subscription downloads by itself.

    Only a subscription whose `include` takes the video's kind counts. A new
    upload is first seen `now`: that is its date when the feed gives none.
    """
    return frozenset(
        v.entry.external_id
        for v in videos
        if v.arrival.announce
        and any(
            kinds.wants(g.include, v.arrival.media_type)
            and should_download(g.mode, g.subscribed_at, v.entry.published_at, now, False)
            for g in gates
        )
    )


def reschedule(
    history: Sequence[float],
    now: float,
    bounds: Bounds,
    response: FetchResult,
    upcoming_due_at: float | None = None,
    host_share: cadence.HostShare | None = None,
) -> Reschedule:
    """Return when to poll next after a success, and the validators to keep.

    A channel on a host polls as often as its share of the host's budget
    allows (`cadence.budget_interval`); one without a host, at about 24 polls
    per typical gap (`schedule.interval_after_success`). An upcoming video's
    re-check brings the next poll forward to it.
    """
    weight = None
    if host_share is None:
        interval = interval_after_success(history, now, bounds)
    else:
        planned = cadence.budget_interval(history, now, host_share, bounds)
        interval, weight = planned.interval_s, planned.weight
    hint = max(filter(None, (response.max_age_s, response.retry_after_s)), default=None)
    at = next_poll_at(now, interval, hint, bounds)
    if upcoming_due_at is not None:
        at = window.next_poll_with_upcoming(at, [upcoming_due_at])
    return Reschedule(
        next_poll_at=at,
        interval_s=interval,
        etag=response.etag,
        last_modified=response.last_modified,
        weight=weight,
    )
