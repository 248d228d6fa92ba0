"""The Dramatiq actors: thin wrappers that open nothing but call the stages.

Run them with `dramatiq poller.actors --queues poll tick`, `… --queues downloads`,
`… --queues notify` and `periodiq poller.actors`. Importing this module declares the actors on
the broker the settings name and connects nothing: a worker opens the
database when it boots (`middleware.WorkerSettings`), and the connection of
each message is opened and closed by `middleware.DatabaseConnection`.
"""

from __future__ import annotations

import logging
import time

import dramatiq
from dramatiq.middleware import CurrentMessage
from periodiq import cron

from . import (
    config,
    downloads,
    host_health,
    host_store,
    host_turn,
    metrics,
    notify,
    notify_store,
    websub_hub,
    websub_store,
)
from .broker import (
    DOWNLOAD_QUEUE,
    NOTIFY_QUEUE,
    POLL_QUEUE,
    TICK_ACTOR,
    TICK_QUEUE,
    build_broker,
)
from .config import Settings
from .enqueue import enqueue_polls
from .outcomes import log_poll
from .pipeline import POLL_FAILED
from .pipeline import poll_channel as run_poll

# The actors bind to a broker when they are declared, so the broker is built
# here, from the settings; building it connects nothing.
broker = build_broker(config.get())
log = logging.getLogger("poller")

POLL_RETRIES = 3  # quick retries of a transient failure; the cadence backs off for longer
DOWNLOAD_RETRIES = 5
NOTIFY_RETRIES = 8  # with the backoff doubling to 5 min: about 20 min of tries at defaults


def poll_time_limit(settings: Settings) -> float:
    """Return the seconds a poll may take: a fetch, a catalog listing, its host's slot, a margin."""
    return settings.rss_timeout + settings.ytdlp_timeout + host_turn.MAX_INLINE_WAIT + 60


def download_time_limit(settings: Settings) -> float:
    """Return the seconds a download may take: yt-dlp's timeout, its host's slot, a margin."""
    return settings.download_timeout + host_turn.MAX_INLINE_WAIT + 60


def _redelivered() -> bool:
    """Return True when RabbitMQ delivers the current message again, unacknowledged."""
    return bool(getattr(CurrentMessage.get_current_message(), "redelivered", False))


def _sent_at() -> float | None:
    """Return when the current message was first sent, epoch seconds."""
    message = CurrentMessage.get_current_message()
    return message.message_timestamp / 1000 if message is not None else None


def _retries_left() -> bool:
    """Return True when Dramatiq will retry the current message if it fails."""
    message = CurrentMessage.get_current_message()
    if message is None:  # called directly, not through a worker
        return False
    actor = broker.get_actor(message.actor_name)
    limit = message.options.get("max_retries", actor.options.get("max_retries", 0))
    return message.options.get("retries", 0) < limit


# The tick has its own queue, so a poll backlog never holds it; inside a poll
# worker its lower priority number puts it ahead of the polls already
# prefetched. A tick still older than 30 s when a worker takes it is skipped
# by periodiq: due channels stay due until the next one.
@dramatiq.actor(
    actor_name=TICK_ACTOR,
    queue_name=TICK_QUEUE,
    priority=0,
    max_retries=0,
    periodic=cron("* * * * *"),
)
def tick(due_only: bool = True, channel_ids: list[int] | None = None) -> None:
    """Mark degraded hosts, claim due channels and send their polls, re-send lost downloads."""
    settings = config.get()
    host_health.refresh_degraded(time.time())
    host_store.refresh_shares()  # each host's channel count and weights, for the polls' cadence
    sent = enqueue_polls(
        poll_channel, time.time(), settings, due_only=due_only, channel_ids=channel_ids
    )
    resent = downloads.stuck(time.time(), settings)
    for video_id in resent:
        download_video.send(video_id)
    for delivery_id in notify_store.stuck(time.time()):
        send_notify.send(delivery_id)
    if sent or resent:
        log.info("tick: %d polls enqueued, %d lost downloads re-sent", sent, len(resent))
    if settings.push:  # subscriptions, renewals and unsubscriptions that are due
        due = websub_store.claim_due(time.time())
        for subscription_id in due:
            websub_request.send(subscription_id)
        if due:
            log.info("tick: %d push subscription requests sent", len(due))


@dramatiq.actor(
    queue_name=POLL_QUEUE,
    priority=10,
    max_retries=POLL_RETRIES,
    min_backoff=15_000,
    max_backoff=300_000,
    time_limit_from=poll_time_limit,  # applied at worker boot (middleware.WorkerSettings)
)
def poll_channel(channel_id: int, probe: str | None = None) -> None:
    """Poll one channel; raise on a transient failure so Dramatiq retries it.

    `probe` is the token of its paused host's probe, when the tick sent it as that.
    """
    retrying = _retries_left()
    timer = metrics.Timer()
    result = run_poll(
        channel_id,
        time.time(),
        config.get(),
        retrying=retrying,
        redelivered=_redelivered(),
        sent_at=_sent_at(),
        probe=probe,
    )
    metrics.poll_done(result.outcome, timer.seconds, len(result.new_video_ids))
    log_poll(log, result)
    for video_id in result.download_ids:  # after the commit: the rows are visible
        download_video.send(video_id)
    for delivery_id in result.notice_ids:
        send_notify.send(delivery_id)
    if result.outcome == POLL_FAILED and result.transient and retrying:
        raise dramatiq.Retry(result.error or "transient failure")


@dramatiq.actor(
    queue_name=DOWNLOAD_QUEUE,
    max_retries=DOWNLOAD_RETRIES,
    min_backoff=60_000,
    max_backoff=900_000,
    time_limit_from=download_time_limit,
)
def download_video(video_id: int) -> None:
    """Download one video; raise on a transient failure so Dramatiq retries it."""
    retrying = _retries_left()
    timer = metrics.Timer()
    outcome = downloads.download_video(video_id, time.time(), config.get(), retrying=retrying)
    metrics.download_done(outcome.status, timer.seconds)
    for delivery_id in outcome.notice_ids:  # after the commit that wrote them
        send_notify.send(delivery_id)
    log.info(
        "download video=%s %s%s",
        video_id,
        outcome.status,
        f" ({outcome.error})" if outcome.error else "",
    )
    if outcome.defer_s is not None:
        # Its host is paused, or every download slot here is taken: sent again later, with no
        # retry spent.
        download_video.send_with_options(args=(video_id,), delay=round(outcome.defer_s * 1000))
    elif outcome.transient:
        raise dramatiq.Retry(outcome.error or "transient failure")
    if outcome.retry_at is not None:  # an upcoming premiere: come back when it starts
        delay_ms = max(0, int((outcome.retry_at - time.time()) * 1000))
        download_video.send_with_options(args=(video_id,), delay=delay_ms)


@dramatiq.actor(queue_name=POLL_QUEUE, priority=5, max_retries=0, time_limit=60_000)
def websub_request(subscription_id: int) -> None:
    """Ask a channel's hub to (un)subscribe; send itself again after a failure."""
    asked = websub_hub.request(subscription_id, time.time(), config.get())
    log.info("websub subscription=%s %s", subscription_id, asked.describe())
    if asked.retry_in_s is not None:
        delay_ms = round(asked.retry_in_s * 1000)
        websub_request.send_with_options(args=(subscription_id,), delay=delay_ms)


def notify_time_limit(settings: Settings) -> float:
    """Return the seconds a delivery may take: its connect and read timeouts, a margin."""
    return settings.notify_timeout * 3 + 30


# One message per (target, event): a failing target's retries wait in notify.DQ
# while the others are sent. The delay of each retry is `notices.retry_delay`.
@dramatiq.actor(
    actor_name="notify",
    queue_name=NOTIFY_QUEUE,
    max_retries=NOTIFY_RETRIES,
    time_limit_from=notify_time_limit,
)
def send_notify(delivery_id: int) -> None:
    """Deliver one notification; raise Retry with its backoff when the target failed."""
    message = CurrentMessage.get_current_message()
    retries = message.options.get("retries", 0) if message is not None else 0
    outcome = notify.deliver(
        delivery_id, time.time(), config.get(), retrying=_retries_left(), retries=retries
    )
    metrics.notification_done(outcome.status)
    log.info(
        "notify delivery=%s %s%s",
        delivery_id,
        outcome.status,
        f" ({outcome.reason})" if outcome.reason else "",
    )
    if outcome.retry_in_s is not None:
        raise dramatiq.Retry(outcome.reason or "failed", delay=round(outcome.retry_in_s * 1000))
