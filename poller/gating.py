"""Which new videos a subscription downloads automatically (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .kinds import DEFAULT_INCLUDE
from .models import CATALOG_ONLY, FUTURE_ONLY


@dataclass(frozen=True)
class Gate:
    """One subscription's download gating data."""

    mode: str
    subscribed_at: float
    include: tuple[str, ...] = DEFAULT_INCLUDE


def should_download(
    mode: str,
    subscribed_at: float,
    published_at: float | None,
    discovered_at: float,
    backfill: bool,
) -> bool:
    """Return True when a subscription in `mode` wants this video downloaded.

    `future_only` takes videos published after the subscription was made;
    `catalog_only` never downloads by itself. Back-catalog videos are never
    downloaded automatically, whatever the mode. A video without a publish
    date counts as published when we first saw it.
    """
    if backfill or mode == CATALOG_ONLY:
        return False
    if mode != FUTURE_ONLY:
        return False
    published = published_at if published_at is not None else discovered_at
    # Feeds date uploads to the second: one in the subscription's second counts.
    return published >= math.floor(subscribed_at)
