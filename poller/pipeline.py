"""One poll of one channel: load → fetch → decide (pure) → apply.

`poll_channel` is the unit of work the actor, the CLI and the tests all call.
It reads no clock and no global settings: `now`, the settings and the random
source come in (and a monotonic clock that times the poll for its history),
a `PollResult` goes out. What to do at each step is decided by
`decide.next_step`; this module only gathers its facts and applies its answer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from peewee import DatabaseError, InterfaceError

from . import (
    alerts,
    cadence,
    decide,
    host_effects,
    host_signals,
    host_turn,
    kind_sources,
    poll_history,
    reads,
    sources,
    store,
    websub_store,
    window,
)
from .catalog import list_catalog
from .config import Settings
from .database import one_line
from .decide import (
    NEW,
    NOT_MODIFIED,
    UNCHANGED,
    Listing,
    Observed,
    StoreEntries,
    already_polled,
)
from .errors import InternalError, PermanentError, PollError
from .fetch import FetchResult, fetch
from .host_links import rate_of
from .models import Channel
from .parse import Entry, ParsedFeed, parse_feed
from .scan import scan_ids
from .schedule import Bounds, delay_after_failure, next_poll_at

log = logging.getLogger(__name__)

# Deliveries of one channel's poll that killed their worker (SIGKILL, OOM), in
# a row, before the poll is given up for this round: Dramatiq does not count
# such redeliveries as retries.
MAX_KILLED_POLLS = 3

# Outcomes besides decide's NOT_MODIFIED, UNCHANGED and NEW.
POLL_FAILED = "failed"
SKIPPED = "skipped"
DEFERRED = "deferred"  # the host is paused: polled after, nothing charged
__all__ = [
    "DEFERRED",
    "NEW",
    "NOT_MODIFIED",
    "POLL_FAILED",
    "SKIPPED",
    "UNCHANGED",
    "PollResult",
]


@dataclass(frozen=True)
class PollResult:
    """The outcome of one poll, as logged, printed and returned by the API."""

    channel_id: int
    outcome: str  # not_modified | unchanged | new | failed | skipped | deferred
    new_video_ids: list[int] = field(default_factory=list)
    backfill_count: int = 0
    download_ids: list[int] = field(default_factory=list)
    error: str | None = None
    transient: bool = False  # a failure that Dramatiq may retry
    http_status: int | None = None  # the feed's answer, when there was one
    notice_ids: list[int] = field(default_factory=list)  # deliveries for the `notify` queue

    def describe(self) -> str:
        """Return the one-line summary logged for every poll."""
        if self.outcome == NEW:
            return f"new={len(self.new_video_ids)} backfill={self.backfill_count}"
        if self.outcome == UNCHANGED and self.backfill_count:
            return f"unchanged backfill={self.backfill_count}"
        if self.outcome == POLL_FAILED:
            return f"failed ({self.error})"
        return self.outcome


def poll_channel(
    channel_id: int,
    now: float,
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    **options: Any,
) -> PollResult:
    """Poll one channel (see `poll_once`) and add the poll to its history.

    A poll that did not run (the channel is no longer polled) leaves none.

    Args:
        clock: measures the poll's duration.
        options: `poll_once`'s keyword arguments.
    """
    started = clock()
    result = poll_once(channel_id, now, settings, **options)
    if result.outcome == SKIPPED:
        return result
    try:
        poll_history.record_poll(
            channel_id,
            now,
            result.outcome,
            clock() - started,
            http_status=result.http_status,
            new_videos=len(result.new_video_ids),
            backfill=result.backfill_count,
            error=result.error,
        )
    except (DatabaseError, InterfaceError) as exc:
        # The poll's own writes are committed: failing now would poll again.
        log.warning("channel %s: poll history not written: %s", channel_id, exc)
    return result


def poll_once(
    channel_id: int,
    now: float,
    settings: Settings,
    *,
    rng: Callable[[], float] = random.random,
    retrying: bool = False,
    redelivered: bool = False,
    sent_at: float | None = None,
    probe: str | None = None,
) -> PollResult:
    """Poll one channel and store what is new.

    Args:
        channel_id: the channel to poll.
        now: the current time, epoch seconds.
        settings: timeouts, bounds and URLs.
        rng: jitter source for failure backoff.
        retrying: True when Dramatiq will retry a transient failure; the
            channel then keeps its claim so the tick does not send it again.
        redelivered: True when the broker delivers this message again because
            an earlier delivery was never acknowledged, as when a poll kills
            its worker; such a poll is counted before it fetches anything.
        sent_at: when the message was sent, epoch seconds; a redelivered
            message whose poll ended after that is skipped.
        probe: the probe's token when this poll is its paused host's probe
            (`host_store.reserve` granted it); its outcome ends or doubles the pause.

    Returns:
        The outcome. Failures are recorded on the channel and returned, not
        raised; the caller raises for a transient one to get a retry.
    """
    channel = reads.load(channel_id)
    if redelivered and channel is not None:
        done_at = max(channel.last_polled_at or 0, channel.last_error_at or 0) or None
        if already_polled(done_at, channel.claimed_until, sent_at, now):
            return PollResult(channel_id, SKIPPED, error="already polled")
        # Only a redelivery pays for a committed write before the fetch: a
        # first delivery that dies is redelivered, and counted then.
        channel = reads.begin_attempt(channel_id)
    if channel is None or channel.next_poll_at is None:
        return PollResult(channel_id, SKIPPED, error="no longer subscribed, or paused")
    host = reads.host_of(channel)
    if (later := host_effects.deferral(host, probe, now, rng)) is not None:
        store.defer(channel.id, now, later)
        return PollResult(channel_id, DEFERRED)
    bounds = Bounds(settings.min_interval, settings.max_interval)
    if channel.poll_attempts >= MAX_KILLED_POLLS:
        error = f"the poll stopped its worker {channel.poll_attempts} times in a row"
        return _fail(channel, now, bounds, PermanentError(error), rng, lease=0)
    try:
        result = _poll(channel, now, settings, bounds, host)
    except PollError as exc:
        lease = settings.claim_lease if retrying else 0
        verdict = host_effects.after_failure(
            channel,
            host,
            str(exc),
            getattr(exc, "retry_after_s", None),
            now,
            settings,
            rng(),
            probe,
        )
        if verdict.defer_to is not None:
            store.defer(channel.id, now, verdict.defer_to, str(exc))
            notices = []
            if verdict.paused_host is not None:
                notices = alerts.host_paused(
                    verdict.paused_host, verdict.paused_until, str(exc), now
                )
            return PollResult(channel_id, DEFERRED, error=str(exc), notice_ids=notices)
        if verdict.gone:
            exc = PermanentError(f"gone: {exc}")
        found = None
        if not verdict.charge:  # the platform's outage: the listing may still tell
            found = _uploads_from_listing(channel, now, settings, bounds, host)
        failed = _fail(channel, now, bounds, exc, rng, lease=lease, verdict=verdict)
        if found is None:
            return failed
        log.info(
            "channel %s: %d new from its listing, its feed failing",
            channel_id,
            len(found.new_video_ids),
        )
        return replace(
            failed,
            new_video_ids=found.new_video_ids,
            download_ids=found.download_ids,
            notice_ids=found.notice_ids + failed.notice_ids,
        )
    except (DatabaseError, InterfaceError) as exc:
        # A database locked past its busy timeout, or restarting: nothing can
        # be recorded, so the message is retried (the channel keeps its claim
        # until its lease runs out). This attempt did not crash its worker, so
        # it must not count as one.
        if redelivered:
            reads.forget_attempt(channel_id)
        error = f"database: {one_line(exc)}"
        log.warning("channel %s: poll not recorded, retried: %s", channel_id, error)
        return PollResult(channel_id, POLL_FAILED, error=error, transient=True)
    except Exception as exc:
        # A bug or an input nobody foresaw: record it like any failure, or the
        # message dead-letters and the channel, unmarked, is claimed forever.
        log.exception("channel %s: poll failed unexpectedly", channel_id)
        return _fail(channel, now, bounds, InternalError(exc), rng, lease=0)
    host_effects.after_success(host, probe)
    websub_store.after_poll(channel, result.outcome == NEW, now, settings)  # push's trust
    return result


def _poll(
    channel: Channel, now: float, settings: Settings, bounds: Bounds, host: reads.HostOf
) -> PollResult:
    """Fetch, then apply `decide.next_step` until it finishes or stores."""
    # A re-check of upcoming videos reads the whole feed: whether one is still
    # in it says whether it is gone, which a 304 would not tell.
    recheck = channel.upcoming_due_at is not None and channel.upcoming_due_at <= now
    response = fetch(
        sources.feed_url(channel.kind, channel.external_id, channel.feed_url, settings),
        etag=None if recheck else channel.etag,
        last_modified=None if recheck else channel.last_modified,
        timeout=settings.rss_timeout,
        max_bytes=settings.max_feed_bytes,
        max_redirects=settings.max_redirects,
        allow_private=settings.allow_private_networks,
    )
    if response.status == 200 and _is_bot_check(response.body):
        raise PermanentError(f"bot check: {BOT_CHECK_TEXT} (an HTML page, not the feed)")
    if response.status == 200:
        websub_store.seen_feed(channel, response.body, now, settings)  # <link rel="hub">
    seen = Observed(_state(channel, settings, host), response)
    if response.status != 304 and (ids := scan_ids(response.body)) is not None:
        scanned = frozenset(ids)
        known = frozenset(reads.known_ids(channel.id, scanned))
        seen = replace(seen, scanned=scanned, known=known)
    return _decide_and_apply(channel, seen, now, settings, bounds)


def _uploads_from_listing(
    channel: Channel, now: float, settings: Settings, bounds: Bounds, host: reads.HostOf
) -> PollResult | None:
    """Read a channel's new uploads from its catalog listing while its host's feeds fail.

    In a platform outage (the host degraded) the feed says nothing, but the
    channel's /videos page may still list its uploads: its newest entries
    stand in for the feed, through the same decisions as a feed's (within the
    host's budget: the listing takes a slot). That tab lists long-form videos
    only, so the uploads-playlist feeds are not asked. None when the channel
    has no listing or the listing failed too.
    """
    url = sources.catalog_url(channel.kind, channel.external_id, settings)
    if url is None:
        return None
    listing = _list_catalog(channel, url, settings)
    if listing.error is not None or not listing.entries:
        return None
    newest = list(listing.entries)[: window.WINDOW]
    known = frozenset(reads.known_ids(channel.id, [e.external_id for e in newest]))
    seen = Observed(
        replace(_state(channel, settings, host), playlists_of=None),
        FetchResult(200, b"", None, None, None, None),  # no feed: no validators to keep
        feed=ParsedFeed(title="", entries=newest),
        known=known,
        catalog=listing,
    )
    found = _decide_and_apply(channel, seen, now, settings, bounds)
    return found if found.new_video_ids else None


def _decide_and_apply(
    channel: Channel, seen: Observed, now: float, settings: Settings, bounds: Bounds
) -> PollResult:
    """Apply `decide.next_step` to what the poll has seen until it finishes or stores."""
    response = seen.response
    # Each gathering step runs at most once (a playlist feed once per prefix),
    # so the tenth answer is final.
    for _ in range(MAX_STEPS):
        step = decide.next_step(seen, now, bounds)
        if isinstance(step, decide.Parse):
            seen = _parse(channel, seen)
        elif isinstance(step, decide.ListCatalog):
            seen = replace(seen, catalog=_list_catalog(channel, step.url, settings))
        elif isinstance(step, decide.LoadGates):
            seen = replace(seen, gates=reads.download_gates(channel.id))
        elif isinstance(step, decide.LoadUpcoming):
            seen = replace(seen, upcoming=reads.upcoming(channel.id))
        elif isinstance(step, decide.FetchPlaylist):
            ids = kind_sources.playlist_ids(channel.external_id or "", step.prefix, settings)
            seen = replace(seen, playlists={**seen.playlists, step.prefix: ids})
        elif isinstance(step, decide.Probe):
            seen = replace(seen, metadata=kind_sources.metadata(step.external_ids, settings))
        elif isinstance(step, decide.FinishUnchanged):
            store.finish_unchanged(channel, now, step.reschedule, step.outcome, step.warning)
            return PollResult(channel.id, step.outcome, http_status=response.status)
        else:
            return replace(_store(channel, now, step), http_status=response.status)
    raise RuntimeError(f"the poll's decisions did not end: {type(step).__name__} again")


# Parse, list, load the gates and the upcoming videos, four playlist feeds,
# one probe, then finish or store.
MAX_STEPS = 10

BOT_CHECK_TEXT = "Sign in to confirm you're not a bot"


def _is_bot_check(body: bytes) -> bool:
    """Return True for YouTube's bot-check page (HTML with status 200), not a feed."""
    return host_signals.classify(200, body[:4096]) == host_signals.BOT_CHECK


def _state(channel: Channel, settings: Settings, host: reads.HostOf) -> decide.ChannelState:
    share = None
    if host.name is not None:
        share = cadence.HostShare(host.channels, host.weight_sum, rate_of(host.name, settings))
    return decide.ChannelState(
        polled_before=channel.last_polled_at is not None,
        cataloged=channel.cataloged_at is not None,
        upload_times=reads.upload_times(channel),
        catalog_url=sources.catalog_url(channel.kind, channel.external_id, settings),
        warning=channel.warning,
        playlists_of=sources.playlists_of(channel.kind, channel.external_id),
        last_good_poll=channel.last_polled_at,
        upcoming_due_at=channel.upcoming_due_at,
        host_share=share,
    )


def _parse(channel: Channel, seen: Observed) -> Observed:
    """Parse the body; look up the ids the scan did not read (or could not)."""
    feed = parse_feed(seen.response.body)
    if feed.warning:
        log.warning("channel %s: %s", channel.id, feed.warning)
    parsed = frozenset(e.external_id for e in feed.entries)
    known = seen.known
    if not parsed <= (seen.scanned or frozenset()):
        known = frozenset(reads.known_ids(channel.id, parsed))
    return replace(seen, feed=feed, known=known)


def _store(channel: Channel, now: float, plan: StoreEntries) -> PollResult:
    saved = store.save_new(channel, now, plan)
    outcome = NEW if saved.new_video_ids else UNCHANGED
    return PollResult(
        channel.id,
        outcome,
        saved.new_video_ids,
        saved.backfill_count,
        saved.download_ids,
        notice_ids=saved.notice_ids,
    )


def _list_catalog(channel: Channel, url: str, settings: Settings) -> Listing:
    """List the whole catalog; a failure never blocks the feed path."""
    try:
        with host_turn.turn(url, settings) as host_args:
            listed = list_catalog(
                url,
                timeout=settings.ytdlp_timeout,
                video_url_base=settings.youtube_url,
                extra_args=host_args,
                workers=settings.ytdlp_workers,
            )
    except PollError as exc:
        log.warning("channel %s: catalog listing failed, retried next poll: %s", channel.id, exc)
        return Listing(error=str(exc))
    ids = [e.external_id for e in listed]
    return Listing(
        [Entry(e.external_id, e.title, e.url, e.published_at) for e in listed],
        kinds={e.external_id: e.media_type for e in listed},
        starts={e.external_id: e.start_at for e in listed if e.start_at is not None},
        known=frozenset(reads.known_ids(channel.id, ids)),
    )


def _fail(
    channel: Channel,
    now: float,
    bounds: Bounds,
    exc: PollError,
    rng: Callable[[], float],
    *,
    lease: float,
    verdict: host_effects.Verdict | None = None,
) -> PollResult:
    """Record a failure; keep the claim for `lease` seconds while a retry is due.

    An uncharged failure (its host is degraded: the platform's outage) keeps
    the channel's normal cadence and gets no quick retry.
    """
    kind = verdict.kind if verdict else None
    if verdict and not verdict.charge:
        wait = max(channel.interval_s, bounds.min_s)
        store.record_failure(channel.id, str(exc), now, now + wait, charge=False, kind=kind)
        return PollResult(channel.id, POLL_FAILED, error=str(exc), http_status=exc.http_status)
    failures = channel.consecutive_failures + 1
    wait = delay_after_failure(failures, bounds, rng())
    hint = getattr(exc, "retry_after_s", None)
    store.record_failure(
        channel.id,
        str(exc),
        now,
        next_poll_at(now, wait, hint, bounds),
        claimed_until=now + lease if lease and exc.transient else 0,
        kind=kind,
    )
    notices = alerts.channel_failing(channel.id, failures, str(exc), now)
    return PollResult(
        channel.id,
        POLL_FAILED,
        error=str(exc),
        transient=exc.transient,
        http_status=exc.http_status,
        notice_ids=notices,
    )
