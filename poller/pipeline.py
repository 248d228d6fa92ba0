"""One poll of one channel: fetch → scan → parse → catalog → store → reschedule.

`poll_channel` is the unit of work the actor, the CLI and the tests all call.
It reads no clock and no global settings: `now`, the settings and the random
source come in, a `PollResult` goes out.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from peewee import DatabaseError

from . import reads, sources, store
from .catalog import list_catalog
from .config import Settings
from .errors import PermanentError, PollError
from .fetch import FetchResult, fetch
from .models import Channel
from .parse import Entry, parse_feed
from .scan import scan_ids
from .schedule import (
    Bounds,
    delay_after_failure,
    interval_after_success,
    merge_history,
    next_poll_at,
)

log = logging.getLogger(__name__)

# A poll whose worker died this many times in a row (SIGKILL, OOM) is given
# up for this round: Dramatiq does not count such redeliveries as retries.
MAX_ATTEMPTS = 3

NOT_MODIFIED = "not_modified"
UNCHANGED = "unchanged"
NEW = "new"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class PollResult:
    """The outcome of one poll, as logged, printed and returned by the API."""

    channel_id: int
    outcome: str  # not_modified | unchanged | new | failed | skipped
    new_video_ids: list[int] = field(default_factory=list)
    backfill_count: int = 0
    download_ids: list[int] = field(default_factory=list)
    error: str | None = None
    transient: bool = False  # a failure that Dramatiq may retry

    def describe(self) -> str:
        """Return the one-line summary logged for every poll."""
        if self.outcome == NEW:
            return f"new={len(self.new_video_ids)} backfill={self.backfill_count}"
        if self.outcome == UNCHANGED and self.backfill_count:
            return f"unchanged backfill={self.backfill_count}"
        if self.outcome == FAILED:
            return f"failed ({self.error})"
        return self.outcome


def poll_channel(
    channel_id: int,
    now: float,
    settings: Settings,
    *,
    rng: Callable[[], float] = random.random,
    retrying: bool = False,
    redelivered: bool = False,
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

    Returns:
        The outcome. Failures are recorded on the channel and returned, not
        raised; the caller raises for a transient one to get a retry.
    """
    # Only a redelivery pays for a committed write before the fetch: a first
    # delivery that dies is redelivered, and counted then.
    channel = reads.begin_attempt(channel_id) if redelivered else reads.load(channel_id)
    if channel is None or channel.next_poll_at is None:
        return PollResult(channel_id, SKIPPED, error="no longer subscribed")
    bounds = Bounds(settings.min_interval, settings.max_interval)
    if channel.poll_attempts >= MAX_ATTEMPTS:
        error = f"the poll stopped its worker {channel.poll_attempts} times in a row"
        return _fail(channel, now, bounds, PermanentError(error), rng, lease=0)
    try:
        return _poll(channel, now, settings, bounds)
    except PollError as exc:
        return _fail(channel, now, bounds, exc, rng, lease=settings.claim_lease if retrying else 0)
    except DatabaseError:
        # A locked or restarting database: Dramatiq retries the message. This
        # attempt did not crash its worker, so it must not count as one.
        if redelivered:
            reads.forget_attempt(channel_id)
        raise


def _poll(channel: Channel, now: float, settings: Settings, bounds: Bounds) -> PollResult:
    url = sources.feed_url(channel.kind, channel.external_id, channel.feed_url, settings)
    response = fetch(
        url,
        etag=channel.etag,
        last_modified=channel.last_modified,
        timeout=settings.rss_timeout,
        max_bytes=settings.max_feed_bytes,
        max_redirects=settings.max_redirects,
        allow_private=settings.allow_private_networks,
    )
    first_poll = channel.last_polled_at is None
    needs_catalog = channel.cataloged_at is None
    history = reads.upload_times(channel)
    if response.status == 304 and not needs_catalog:
        store.finish_unchanged(channel, now, _plan(history, now, bounds, response), NOT_MODIFIED)
        return PollResult(channel.id, NOT_MODIFIED)

    entries: list[Entry] = []
    title = ""
    scanned: set[str] = set()
    known: set[str] = set()
    if response.status != 304:
        ids = scan_ids(response.body)
        if ids is not None:
            scanned = set(ids)
            known = reads.known_ids(channel.id, scanned)
            if not needs_catalog and scanned <= known:
                plan = _plan(history, now, bounds, response)
                store.finish_unchanged(channel, now, plan, UNCHANGED)
                return PollResult(channel.id, UNCHANGED)
        parsed = parse_feed(response.body)
        entries, title = parsed.entries, parsed.title

    parsed_ids = {e.external_id for e in entries}
    if not parsed_ids <= scanned:  # the scan could not read the body, or saw less
        known = reads.known_ids(channel.id, parsed_ids)
    fresh = [e for e in entries if e.external_id not in known]
    # The feed is a window of the latest uploads: when all of it is new on a
    # channel we polled before, uploads may have slipped past unseen.
    gap = not first_poll and bool(entries) and len(fresh) == len(entries)
    catalog: list[Entry] = []
    catalog_error = None
    catalog_target = sources.catalog_url(channel.kind, channel.external_id, settings)
    if (needs_catalog or gap) and catalog_target:
        catalog, catalog_error = _list_catalog(channel, catalog_target, settings)
    # A plain feed is its own catalog; a failed listing is tried again next poll.

    # A first poll's entries are back catalog, but their dates still tell
    # how often the channel uploads.
    history = merge_history(history, [e.published_at or now for e in fresh])
    saved = store.save_new(
        channel,
        now,
        _plan(history, now, bounds, response),
        fresh,
        catalog,
        history=history,
        announce=not first_poll,
        catalog_error=catalog_error,
        title=title,
    )
    outcome = NEW if saved.new_video_ids else UNCHANGED
    return PollResult(
        channel.id, outcome, saved.new_video_ids, saved.backfill_count, saved.download_ids
    )


def _list_catalog(channel: Channel, url: str, settings: Settings) -> tuple[list[Entry], str | None]:
    """List the whole catalog; a failure never blocks the feed path.

    Returns:
        The entries, and the error when the listing failed (else None).
    """
    try:
        listed = list_catalog(
            url, timeout=settings.ytdlp_timeout, video_url_base=settings.youtube_url
        )
    except PollError as exc:
        log.warning("channel %s: catalog listing failed, retried next poll: %s", channel.id, exc)
        return [], str(exc)
    return [Entry(e.external_id, e.title, e.url, e.published_at) for e in listed], None


def _plan(
    history: list[float], now: float, bounds: Bounds, response: FetchResult
) -> store.Reschedule:
    interval = interval_after_success(history, now, bounds)
    hint = max(filter(None, (response.max_age_s, response.retry_after_s)), default=None)
    return store.Reschedule(
        next_poll_at=next_poll_at(now, interval, hint, bounds),
        interval_s=interval,
        etag=response.etag,
        last_modified=response.last_modified,
    )


def _fail(
    channel: Channel,
    now: float,
    bounds: Bounds,
    exc: PollError,
    rng: Callable[[], float],
    *,
    lease: float,
) -> PollResult:
    """Record a failure; keep the claim for `lease` seconds while a retry is due."""
    failures = channel.consecutive_failures + 1
    wait = delay_after_failure(failures, bounds, rng())
    hint = getattr(exc, "retry_after_s", None)
    store.record_failure(
        channel.id,
        str(exc),
        now,
        next_poll_at(now, wait, hint, bounds),
        claimed_until=now + lease if lease and exc.transient else 0,
    )
    return PollResult(channel.id, FAILED, error=str(exc), transient=exc.transient)
