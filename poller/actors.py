"""The Dramatiq actors: thin wrappers that open nothing but call the stages.

Run them with `dramatiq poller.actors --queues poll tick`, `… --queues downloads`
and `periodiq poller.actors`. The database connection of each message is
opened and closed by `middleware.DatabaseConnection`.
"""

from __future__ import annotations

import logging
import time

import dramatiq
from dramatiq.middleware import CurrentMessage
from periodiq import cron

from . import config, media
from .broker import DOWNLOAD_QUEUE, POLL_QUEUE, TICK_QUEUE, build_broker
from .database import open_database
from .pipeline import FAILED
from .pipeline import poll_channel as run_poll
from .tick import fan_out

# Time limits are fixed when the actors are declared; everything else reads
# config.get() per message, so tests and `tubepoller up` can swap settings.
SETTINGS = config.get()
broker = build_broker(SETTINGS)
open_database(SETTINGS.database_url)
log = logging.getLogger("poller")

POLL_RETRIES = 3  # quick retries of a transient failure; the cadence backs off for longer
DOWNLOAD_RETRIES = 5


def _redelivered() -> bool:
    """Return True when RabbitMQ delivers the current message again, unacknowledged."""
    return bool(getattr(CurrentMessage.get_current_message(), "redelivered", False))


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
@dramatiq.actor(queue_name=TICK_QUEUE, priority=0, max_retries=0, periodic=cron("* * * * *"))
def tick(due_only: bool = True, channel_ids: list[int] | None = None) -> None:
    """Claim due channels, send one poll message each, re-send lost downloads."""
    settings = config.get()
    sent = fan_out(poll_channel, time.time(), settings, due_only=due_only, channel_ids=channel_ids)
    resent = media.stuck(time.time(), settings)
    for video_id in resent:
        download_video.send(video_id)
    if sent or resent:
        log.info("tick: %d polls enqueued, %d lost downloads re-sent", sent, len(resent))


@dramatiq.actor(
    queue_name=POLL_QUEUE,
    priority=10,
    max_retries=POLL_RETRIES,
    min_backoff=15_000,
    max_backoff=300_000,
    time_limit=int((SETTINGS.rss_timeout + SETTINGS.ytdlp_timeout + 60) * 1000),
)
def poll_channel(channel_id: int) -> None:
    """Poll one channel; raise on a transient failure so Dramatiq retries it."""
    retrying = _retries_left()
    result = run_poll(
        channel_id, time.time(), config.get(), retrying=retrying, redelivered=_redelivered()
    )
    log.info("poll channel=%s %s", channel_id, result.describe())
    for video_id in result.download_ids:  # after the commit: the rows are visible
        download_video.send(video_id)
    if result.outcome == FAILED and result.transient and retrying:
        raise dramatiq.Retry(result.error or "transient failure")


@dramatiq.actor(
    queue_name=DOWNLOAD_QUEUE,
    max_retries=DOWNLOAD_RETRIES,
    min_backoff=60_000,
    max_backoff=900_000,
    time_limit=int((SETTINGS.download_timeout + 60) * 1000),
)
def download_video(video_id: int) -> None:
    """Download one video; raise on a transient failure so Dramatiq retries it."""
    retrying = _retries_left()
    outcome = media.download_video(video_id, time.time(), config.get(), retrying=retrying)
    log.info(
        "download video=%s %s%s",
        video_id,
        outcome.status,
        f" ({outcome.error})" if outcome.error else "",
    )
    if outcome.transient:
        raise dramatiq.Retry(outcome.error or "transient failure")
