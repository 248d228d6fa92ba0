"""Send polls: claim channels and send one poll message each (tick and manual polls)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dramatiq.errors import BrokerError

from .claim import BATCH, claim, release
from .config import Settings

log = logging.getLogger(__name__)


def enqueue_polls(
    poll_actor: Any,
    now: float,
    settings: Settings,
    *,
    due_only: bool = True,
    channel_ids: Sequence[int] | None = None,
) -> int:
    """Claim channels batch by batch and send a poll message for each.

    Claiming and sending in batches bounds what a crash strands: at most one
    batch waits for its lease to run out. When the broker refuses a send the
    unsent channels are released at once for the next tick.

    Returns:
        How many poll messages were sent.
    """
    sent = 0
    while True:
        ids = claim(
            now, settings.claim_lease, due_only=due_only, channel_ids=channel_ids, limit=BATCH
        )
        for position, channel_id in enumerate(ids):
            try:
                poll_actor.send(channel_id)
            except BrokerError as exc:
                release(ids[position:])
                log.warning("tick: broker refused a send after %d messages: %s", sent, exc)
                raise
            sent += 1
        if len(ids) < BATCH:
            break
    return sent
