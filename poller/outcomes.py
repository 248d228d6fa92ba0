"""Log one poll's outcome: one line, and a failure at WARNING with its URL.

The actor, `tubepoller poll` and `tubepoller poll --all` log through here,
so an operator reading any of their logs can find a failing feed by its URL.
"""

from __future__ import annotations

import logging

from . import reads
from .config import redact
from .pipeline import POLL_FAILED, PollResult


def log_poll(log: logging.Logger, result: PollResult) -> None:
    """Log a poll's one-line outcome; a failure at WARNING, naming the channel's URL."""
    if result.outcome != POLL_FAILED:
        log.info("poll channel=%s %s", result.channel_id, result.describe())
        return
    channel = reads.load(result.channel_id)
    log.warning(
        "poll channel=%s url=%s %s",
        result.channel_id,
        redact(channel.feed_url) if channel is not None else "?",
        result.describe(),
    )
