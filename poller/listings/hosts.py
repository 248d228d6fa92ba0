"""Hosts as readers see them: budget, pause (until, reason, level) and degraded flag."""

from __future__ import annotations

from typing import Any

from .. import host_store
from .shapes import iso


def hosts(now: float) -> list[dict[str, Any]]:
    """Return every host the poller sends requests to, by name (1 query)."""
    return [host_json(state, now) for state in host_store.list_hosts()]


def host_json(state: host_store.HostState, now: float) -> dict[str, Any]:
    """Return one host for the health check and `tubepoller host list`.

    `paused` stays true until the probe at the pause's end succeeds; `state`
    says where it is: open, paused, probe_free (the next request probes) or
    probing.
    """
    return {
        "name": state.name,
        "state": state.state(now),
        "paused": state.paused_until is not None,
        "paused_until": iso(state.paused_until),
        "pause_reason": state.pause_reason,
        "pause_level": state.pause_level,
        "degraded": state.degraded_since is not None,
        "degraded_since": iso(state.degraded_since),
    }
