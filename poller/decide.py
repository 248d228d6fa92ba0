"""What one poll does next, decided from what it has seen so far (pure).

The pipeline gathers facts (the fetch result, the ids the scan read, which
of them are stored, the parsed feed, the catalog listing, the subscriptions'
gating data) into an `Observed` and asks `next_step` what to do; the answer is
an intent the pipeline applies: parse the body, list the catalog, load the
gating data, finish unchanged, or store these entries. Nothing here touches
the database, the network or the clock, so every path of a poll is a row in
a table test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .fetch import FetchResult
from .gating import should_download
from .parse import Entry, ParsedFeed
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


@dataclass(frozen=True)
class Gate:
    """One subscription's download gating data."""

    mode: str
    subscribed_at: float


@dataclass(frozen=True)
class Listing:
    """The outcome of listing a channel's catalog."""

    entries: Sequence[Entry] = ()
    error: str | None = None  # why the listing failed; it is tried again next poll


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


@dataclass(frozen=True)
class Reschedule:
    """The channel's poll state after a poll; None fields are left as they are."""

    next_poll_at: float
    interval_s: float
    etag: str | None = None
    last_modified: str | None = None


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
class FinishUnchanged:
    """Reschedule the channel; nothing is stored."""

    outcome: str  # NOT_MODIFIED | UNCHANGED
    reschedule: Reschedule
    warning: str | None  # the channel's warning from now on (None clears it)


@dataclass(frozen=True)
class StoreEntries:
    """Store these entries (each may already be stored) and reschedule."""

    announced: list[Entry]  # new uploads: referenced, announced, maybe downloaded
    back_catalog: list[Entry]  # referenced quietly, never downloaded automatically
    download_ids: frozenset[str]  # external ids of the announced entries to download
    history: list[float]  # upload times with the new ones merged in
    reschedule: Reschedule
    catalog_error: str | None  # None marks the channel cataloged
    title: str  # the channel's title from the feed ('' keeps it)
    warning: str | None = None  # the channel's warning from now on (None clears it)


Decision = Parse | ListCatalog | LoadGates | FinishUnchanged | StoreEntries


def next_step(seen: Observed, now: float, bounds: Bounds) -> Decision:
    """Return what the poll does next, given what it has seen.

    Args:
        seen: the facts gathered so far.
        now: the current time, epoch seconds.
        bounds: the shortest and longest poll interval.
    """
    channel, response = seen.channel, seen.response
    if response.status == 304 and channel.cataloged:
        plan = reschedule(channel.upload_times, now, bounds, response)
        return FinishUnchanged(NOT_MODIFIED, plan, channel.warning)  # the body is as it was
    if response.status != 304 and seen.feed is None:
        # Most polls end here: every id the scan read is stored, nothing is parsed.
        if seen.scanned is not None and channel.cataloged and seen.scanned <= seen.known:
            plan = reschedule(channel.upload_times, now, bounds, response)
            return FinishUnchanged(UNCHANGED, plan, None)  # well-formed: the scan read it
        return Parse()

    feed = seen.feed or _NO_FEED  # a 304 on a channel still to be cataloged
    fresh = [e for e in feed.entries if e.external_id not in seen.known]
    # The feed is a window of the latest uploads: when all of it is new on a
    # channel we polled before, uploads may have slipped past unseen.
    gap = channel.polled_before and bool(feed.entries) and len(fresh) == len(feed.entries)
    if seen.catalog is None and (not channel.cataloged or gap) and channel.catalog_url:
        return ListCatalog(channel.catalog_url)
    # A first poll's entries are back catalog.
    announced = fresh if channel.polled_before else []
    if announced and seen.gates is None:
        return LoadGates()

    listing = seen.catalog or Listing()
    fresh_ids = {e.external_id for e in fresh}
    back_catalog = [] if channel.polled_before else list(fresh)
    back_catalog += [e for e in listing.entries if e.external_id not in fresh_ids]
    # Even back catalog's dates tell how often the channel uploads.
    history = merge_history(channel.upload_times, [e.published_at or now for e in fresh])
    return StoreEntries(
        announced=announced,
        back_catalog=back_catalog,
        download_ids=wanted(announced, seen.gates or (), now),
        history=history,
        reschedule=reschedule(history, now, bounds, response),
        catalog_error=listing.error,
        title=feed.title,
        warning=feed.warning if seen.feed is not None else channel.warning,
    )


def wanted(announced: Sequence[Entry], gates: Sequence[Gate], now: float) -> frozenset[str]:
    """Return the ids of the new uploads some subscription downloads by itself.

    A new upload is first seen `now`: that is its date when the feed gives none.
    """
    return frozenset(
        e.external_id
        for e in announced
        if any(should_download(g.mode, g.subscribed_at, e.published_at, now, False) for g in gates)
    )


def reschedule(
    history: Sequence[float], now: float, bounds: Bounds, response: FetchResult
) -> Reschedule:
    """Return when to poll next after a success, and the validators to keep."""
    interval = interval_after_success(history, now, bounds)
    hint = max(filter(None, (response.max_age_s, response.retry_after_s)), default=None)
    return Reschedule(
        next_poll_at=next_poll_at(now, interval, hint, bounds),
        interval_s=interval,
        etag=response.etag,
        last_modified=response.last_modified,
    )
