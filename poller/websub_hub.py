"""Ask a hub to subscribe or unsubscribe one channel: load → decide → POST → record.

`request` is the unit of work of the `websub_request` actor. A hub that
answers 5xx or 429, or cannot be reached, is asked again after a backoff
(`websub.retry_delay`); the channel's polls go on meanwhile, as they would
without push. YouTube's hub has refused new subscriptions for weeks at a time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from . import websub, websub_store
from .config import Settings
from .errors import PollError
from .fetch import post_form

log = logging.getLogger(__name__)

MAX_HUB_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Asked:
    """What one request did: its outcome, and when to ask again after a failure."""

    outcome: str  # requested | unsubscribed | skipped | failed
    mode: str | None = None
    error: str | None = None
    retry_in_s: float | None = None

    def describe(self) -> str:
        """Return the one-line summary logged for every request."""
        text = f"{self.outcome} {self.mode}" if self.mode else self.outcome
        if self.error:
            text += f" ({self.error})"
        if self.retry_in_s is not None:
            text += f", again in {self.retry_in_s:.1f} s"
        return text


def request(
    subscription_id: int,
    now: float,
    settings: Settings,
    *,
    rng: Callable[[], float] = random.random,
) -> Asked:
    """Send a subscription's due request to its hub and record the answer.

    Subscribe while someone follows the channel (a renewal is a subscribe
    too), unsubscribe when nobody does. With push off, nothing is sent.
    """
    row = websub_store.for_request(subscription_id)
    if row is None or not settings.push:
        return Asked("skipped")
    mode = websub.wanted_mode(row.followed)
    if not websub.needs_request(mode, row.state, row.requested_mode):
        websub_store.dropped_locally(row.id)
        return Asked("unsubscribed", mode)
    callback = websub.callback_url(settings.public_url, row.token)
    form = websub.hub_form(mode, row.links, callback, settings.websub_lease, row.secret)
    try:
        answer = post_form(
            row.links.hub,
            form,
            timeout=min(settings.rss_timeout, MAX_HUB_TIMEOUT_S),
            allow_private=settings.allow_private_networks,
        )
    except PollError as exc:
        return _failed(row, mode, str(exc), None, now, settings, rng)
    if 200 <= answer.status < 300:
        websub_store.requested(row.id, mode, now)
        return Asked("requested", mode)
    said = " ".join(answer.body.decode("utf-8", "replace").split())[:200]
    error = f"hub answered HTTP {answer.status}" + (f": {said}" if said else "")
    return _failed(row, mode, error, answer.retry_after_s, now, settings, rng)


def _failed(
    row: websub_store.Request,
    mode: str,
    error: str,
    retry_after_s: float | None,
    now: float,
    settings: Settings,
    rng: Callable[[], float],
) -> Asked:
    """Record a failed request; the actor sends it again after the backoff.

    The row stays claimed a little past that, so the tick does not send it
    beside the actor's own retry; a lost retry message is the tick's again then.
    """
    delay = websub.retry_delay(row.attempts + 1, settings.websub_retry, retry_after_s, rng())
    websub_store.request_failed(row.id, error, now, now + delay + websub_store.CLAIM_S)
    return Asked("failed", mode, error, delay)
