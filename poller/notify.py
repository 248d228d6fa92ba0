"""Notification targets through Apprise: check a URL, deliver one message.

A target is an Apprise URL (``ntfy://…``, ``gotify://…``, ``discord://…``,
``mailto://…``, ``json://host/path`` …). `check_target` reads it with
Apprise and the address guard before it is stored; `deliver` sends one
queued delivery and records how it went. Apprise does the sending; the
webhook schemas (json, xml, form), whose URL names the host they post to,
go through the project's address guard first, at every attempt.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import notify_store
from .config import Settings
from .errors import BlockedAddress, NotFound, TransientError, UnusableURL
from .models import NotificationTarget, User
from .netguard import check_host, refusal
from .notices import check_events, compose, masked_url, retry_delay

log = logging.getLogger(__name__)

# Schemas whose URL is the address Apprise connects to: the guard applies.
WEBHOOK_SCHEMAS = ("json", "jsons", "xml", "xmls", "form", "forms")


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt at a delivery did."""

    delivery_id: int
    status: str  # sent | pending (retried) | failed | skipped
    reason: str | None = None
    retry_in_s: float | None = None  # pending: the actor raises Retry with this delay


def service(url: str) -> Any:
    """Return the Apprise service a URL names, without sending anything.

    Raises:
        UnusableURL: Apprise cannot read the URL.
    """
    import apprise  # imported on first use: Apprise loads its plugins then

    # Apprise's own log lines repeat what a delivery records and logs (its
    # reason): keep them out of the process's log; each send still collects them.
    logging.getLogger("apprise").propagate = False
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise UnusableURL(
            f"{_shown(url)!r} is not an Apprise URL this Apprise can use (see the Apprise"
            " documentation for each service's form, e.g. json://host/path, ntfy://topic)"
        )
    return plugin


def check_target(url: str, events: list[str], allow_private: bool) -> tuple[str, list[str]]:
    """Check a target before it is stored; return its URL and its events in order.

    Raises:
        UnusableURL: Apprise cannot read it, or it is a webhook on a refused address.
        UnknownEvent: an event is unknown, or none is named.
    """
    kinds = check_events(events)
    url = url.strip()
    _guard(service(url), allow_private, resolve=False)
    return url, kinds


def add_target(
    user: User, url: str, events: list[str], now: float, settings: Settings
) -> NotificationTarget:
    """Check and store a notification target of `user`."""
    url, kinds = check_target(url, events, settings.allow_private_networks)
    return notify_store.add_target(user, url, kinds, now)


def remove_target(user: User, target_id: int) -> None:
    """Delete one of `user`'s targets and its deliveries.

    Raises:
        NotFound: no such target, or another user's.
    """
    notify_store.remove_target(user, target_id)


def send_test(target_id: int, now: float, settings: Settings) -> DeliveryOutcome:
    """Send a test message to a target now, here, and record it as a delivery.

    Raises:
        NotFound: no such target.
    """
    target = NotificationTarget.get_or_none(NotificationTarget.id == target_id)
    if target is None:
        raise NotFound(f"no notification target {target_id}")
    delivery_id = notify_store.queue_test(target, now)
    return deliver(delivery_id, now, settings, retrying=False)


def describe(url: str) -> tuple[str, str]:
    """Return a stored target's URL as it may be shown (secrets masked) and its service's name.

    The name is Apprise's ("JSON", "ntfy", …), empty when Apprise cannot read the URL.
    """
    try:
        plugin = service(url)
    except UnusableURL:
        return masked_url(url, None), ""
    return masked_url(url, plugin.url(privacy=True)), str(getattr(plugin, "service_name", ""))


def shown_url(url: str) -> str:
    """Return a stored target's URL as it may be shown, secrets masked."""
    return describe(url)[0]


def _shown(url: str) -> str:
    shown = masked_url(url, None)
    return shown if len(shown) <= 200 else shown[:199] + "…"


def _guard(plugin: Any, allow_private: bool, *, resolve: bool) -> None:
    """Refuse a webhook whose host is a loopback, private or other non-public address.

    Raises:
        UnusableURL: at add time, with the reason (`resolve=False` checks literal IPs only).
        BlockedAddress: at delivery, when the name resolves to a refused address.
        TransientError: at delivery, when the name does not resolve.
    """
    schemas = _names(getattr(plugin, "protocol", None)) | _names(
        getattr(plugin, "secure_protocol", None)
    )
    if not schemas & set(WEBHOOK_SCHEMAS) or allow_private:
        return
    host = str(plugin.host)
    if not resolve:
        import ipaddress

        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        kind = refusal(ip)
        if kind is not None:
            raise UnusableURL(
                f"{host} is {kind}; set TUBEPOLLER_ALLOW_PRIVATE_NETWORKS=1 to allow it"
            )
        return
    port = plugin.port if isinstance(plugin.port, int) else (443 if plugin.secure else 80)
    check_host(host.strip("[]"), port, allow_private)


def _names(value: Any) -> set[str]:
    """Return a plugin's schema names: Apprise gives one as a string, several as a tuple."""
    if not value:
        return set()
    return {value} if isinstance(value, str) else {str(v) for v in value}


def send(url: str, title: str, body: str, settings: Settings) -> str | None:
    """Send one message to a target; return None when it went, else why not.

    Raises:
        BlockedAddress: a webhook's host resolves to a refused address (final).
    """
    import apprise

    try:
        plugin = service(url)
    except UnusableURL as exc:
        raise BlockedAddress(str(exc)) from None  # never usable: give it up
    try:
        _guard(plugin, settings.allow_private_networks, resolve=True)
    except TransientError as exc:
        return str(exc)
    # Every network call needs its own timeout (a Dramatiq time limit cannot
    # interrupt a blocking socket).
    plugin.socket_connect_timeout = settings.notify_timeout
    plugin.socket_read_timeout = settings.notify_timeout
    notifier = apprise.Apprise()
    notifier.add(plugin)
    result = notifier.notify(body=body, title=title)
    if result:
        return None
    return _reason(result)


def _reason(result: Any) -> str:
    """Return the last warning Apprise logged for a failed send (Apprise ≥ 2 keeps them)."""
    logs = getattr(result, "logs", None)
    entries = list(logs()) if callable(logs) else []
    messages = [str(getattr(e, "message", e)) for e in entries if _level(e) >= logging.WARNING]
    return messages[-1].strip() if messages else "the service refused the notification"


def _level(entry: Any) -> int:
    level = getattr(entry, "level", logging.WARNING)  # a name ("WARNING") or a number
    return level if isinstance(level, int) else logging.getLevelName(str(level).upper())


def deliver(
    delivery_id: int,
    now: float,
    settings: Settings,
    *,
    retrying: bool,
    retries: int = 0,
    rng: Callable[[], float] = random.random,
) -> DeliveryOutcome:
    """Make one attempt at a delivery and record it.

    Args:
        delivery_id: the delivery, queued by `notify_store.queue`.
        now: the current time, epoch seconds.
        settings: the timeout, backoff and address guard.
        retrying: True when a failure will be retried (Dramatiq has retries left).
        retries: the retries made so far, for the backoff.
        rng: jitter source of the backoff.
    """
    claimed = notify_store.claim(delivery_id, now, lease=settings.notify_timeout * 3 + 60)
    if claimed is None:
        return DeliveryOutcome(delivery_id, "skipped")
    url, notice = claimed
    title, body = compose(notice)
    try:
        reason = send(url, title, body, settings)
    except BlockedAddress as exc:
        notify_store.record(delivery_id, now, str(exc), final=True)
        return DeliveryOutcome(delivery_id, "failed", str(exc))
    except Exception as exc:  # a plugin's bug must not leave the delivery claimed
        log.exception("notify delivery=%s failed unexpectedly", delivery_id)
        reason = f"internal error: {type(exc).__name__}: {exc}"[:300]
    if reason is None:
        notify_store.record(delivery_id, now, None)
        return DeliveryOutcome(delivery_id, "sent")
    if not retrying:
        notify_store.record(delivery_id, now, reason, final=True)
        return DeliveryOutcome(delivery_id, "failed", reason)
    notify_store.record(delivery_id, now, reason)
    wait = retry_delay(retries, settings.notify_backoff, rng())
    return DeliveryOutcome(delivery_id, "pending", reason, retry_in_s=wait)
