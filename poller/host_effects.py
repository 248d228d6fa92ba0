"""What a poll does about its host: wait out a pause, report what the host answered.

The poll reads its host with its channel (`reads.host_of`); here it decides
whether to go at all (`deferral`), and after a failure whether the answer
pauses the host, is the platform's (degraded) or is the channel's own
(`after_failure`). A poll carrying the probe's token reports its outcome
(`after_success`, or the failure's), which ends or doubles the pause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from . import host_signals, host_store, hosts
from .config import Settings
from .models import Channel, Host
from .reads import HostOf

log = logging.getLogger(__name__)


def deferral(host: HostOf, probe: str | None, now: float, rng: Callable[[], float]) -> float | None:
    """Return when to poll instead, if the host takes no request now; else None.

    A poll carrying the probe's token goes; any other waits while the host is
    paused or probed, and comes back spread over a minute after that.
    """
    if host.name is None or probe:
        return None
    state = hosts.probe_state(host.paused_until, host.probe_until, now)
    if state == "open":
        return None
    blocked = max(host.paused_until or now, host.probe_until or now)
    return hosts.defer_until(blocked, rng())


def after_success(host: HostOf, probe: str | None) -> None:
    """Report a probe's success: the host's pause ends (1 query, only for a probe)."""
    if probe and host.name and host_store.clear_pause(host.name, probe):
        log.info("host %s: the probe succeeded, its pause ended", host.name)


@dataclass(frozen=True)
class Verdict:
    """What a failed poll means once its host is asked.

    Attributes:
        defer_to: the host is paused: poll again then, charging nothing.
        charge: count the failure against the channel (False: the platform's).
        kind: how the answer counted for the host (`host_signals.classify`).
        gone: a 404 long after the channel's last good poll: it is gone.
        paused_host: the host this answer paused (its subscribers are told).
        paused_until: the end of that pause.
    """

    defer_to: float | None = None
    charge: bool = True
    kind: str | None = None
    gone: bool = False
    paused_host: str | None = None
    paused_until: float | None = None


def after_failure(
    channel: Channel,
    host: HostOf,
    error: str,
    retry_after: float | None,
    now: float,
    settings: Settings,
    rand: float,
    probe: str | None,
) -> Verdict:
    """Classify a failed poll's answer, pause the host if it says so, report a probe.

    Queries only on failures: a 403 counts toward a burst (1), a pause writes
    the host (3), a probe's report (1).
    """
    name = host.name or _name_of(channel)
    if name is None:
        return Verdict()
    kind = host_signals.classify(error=error)
    burst = False
    if kind == host_signals.FORBIDDEN:
        burst = host_signals.is_forbidden_burst(host_store.record_forbidden(name, now))
    effect = host_signals.failure_effect(
        kind,
        status=host_signals.error_status(error),
        degraded=host.degraded,
        last_ok_at=channel.last_polled_at,
        now=now,
        forbidden_burst=burst,
    )
    if effect.pause_host:
        state = host_store.pause(name, now, f"{kind}: {error}", settings.host_pause, retry_after)
        log.warning(
            "host %s paused until %.0f (%s): %s", name, state.paused_until or now, kind, error
        )
        later = hosts.defer_until(state.paused_until or now, rand)
        return Verdict(
            defer_to=later,
            charge=False,
            kind=kind,
            paused_host=name,
            paused_until=state.paused_until,
        )
    if probe:
        # The host answered, only not with a pause: it takes requests again.
        # Without an answer (a timeout) the probe told nothing: let another go.
        if host_signals.error_status(error) is not None:
            host_store.clear_pause(name, probe)
        else:
            host_store.release_probe(name, probe)
    return Verdict(charge=effect.charge_channel, kind=kind, gone=effect.gone)


def _name_of(channel: Channel) -> str | None:
    """Return the host of a channel read without it (a redelivery); 1 query, failures only."""
    if channel.host_id is None:
        return None
    row = Host.select(Host.name).where(Host.id == channel.host_id).first()
    return row.name if row else None
