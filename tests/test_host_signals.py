"""What answers say about their host: bot checks, 429s, 403 bursts, outages, gone channels."""

from __future__ import annotations

import pytest

from poller import host_signals

NOW = 1_800_000_000.0


BOT_PAGE = (
    "<html><body><div>Sign in to confirm you’re not a bot</div>"
    "<p>This helps protect our community.</p></body></html>"
)


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"status": 200, "body": BOT_PAGE.encode()}, host_signals.BOT_CHECK),
        ({"status": 200, "body": BOT_PAGE.replace("’", "'")}, host_signals.BOT_CHECK),
        (
            {
                "error": "ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you’re not a bot. "
                "Use --cookies-from-browser or --cookies for the authentication."
            },
            host_signals.BOT_CHECK,
        ),
        ({"error": "ERROR: Sign in to confirm you're not a bot"}, host_signals.BOT_CHECK),
        ({"status": 429}, host_signals.RATE_LIMITED),
        ({"error": "HTTP 429 from www.youtube.com"}, host_signals.RATE_LIMITED),
        (
            {"error": "ERROR: unable to download webpage: HTTP Error 429: Too Many Requests"},
            host_signals.RATE_LIMITED,
        ),
        ({"status": 403}, host_signals.FORBIDDEN),
        ({"error": "ERROR: HTTP Error 403: Forbidden"}, host_signals.FORBIDDEN),
        ({"status": 404}, host_signals.OUTAGE),
        ({"error": "HTTP 404 from www.youtube.com"}, host_signals.OUTAGE),
        ({"status": 500}, host_signals.OUTAGE),
        ({"status": 503}, host_signals.OUTAGE),
        ({"status": 200, "invalid_xml": True}, host_signals.OUTAGE),
        ({"status": 200, "body": b"<feed/>"}, host_signals.ORDINARY),
        ({"status": 410}, host_signals.ORDINARY),
        ({"error": "timed out after 15 s fetching www.youtube.com"}, host_signals.ORDINARY),
        ({"error": "video 'not a bot' is private"}, host_signals.ORDINARY),
    ],
)
def test_answers_are_classified_for_their_host(kwargs: dict, kind: str) -> None:
    assert host_signals.classify(**kwargs) == kind


def test_five_403s_within_two_minutes_are_a_burst() -> None:
    count, since = 0, None
    for i in range(4):
        count, since = host_signals.forbidden_window(count, since, NOW + i * 10)
    assert (count, since) == (4, NOW) and not host_signals.is_forbidden_burst(count)
    count, since = host_signals.forbidden_window(count, since, NOW + 100)
    assert count == 5 and host_signals.is_forbidden_burst(count)
    # A 403 after the window opens a new one.
    assert host_signals.forbidden_window(count, since, NOW + 121) == (1, NOW + 121)


@pytest.mark.parametrize(
    ("polled", "failing", "degraded"),
    [(10, 5, True), (10, 4, False), (5, 5, True), (4, 4, False), (0, 0, False), (200, 150, True)],
)
def test_a_host_is_degraded_when_half_of_five_or_more_recent_polls_fail(
    polled: int, failing: int, degraded: bool
) -> None:
    assert host_signals.is_degraded(polled, failing) is degraded


def test_a_404_on_a_channel_that_was_fine_is_transient_for_three_days() -> None:
    assert not host_signals.is_gone(NOW - 86400, NOW, degraded=False)
    assert not host_signals.is_gone(NOW - 3 * 86400 + 1, NOW, degraded=False)
    assert host_signals.is_gone(NOW - 3 * 86400, NOW, degraded=False)
    assert not host_signals.is_gone(NOW - 30 * 86400, NOW, degraded=True)
    assert host_signals.is_gone(None, NOW, degraded=False)  # never polled fine: a wrong id
    assert not host_signals.is_gone(None, NOW, degraded=True)


D = 86400.0


@pytest.mark.parametrize(
    ("kind", "status", "degraded", "last_ok_at", "burst", "effect"),
    [
        (host_signals.BOT_CHECK, 200, False, NOW - 60, False, (True, False, False)),
        (host_signals.RATE_LIMITED, 429, True, NOW - 60, False, (True, False, False)),
        (host_signals.FORBIDDEN, 403, False, NOW - 60, False, (False, True, False)),
        (host_signals.FORBIDDEN, 403, False, NOW - 60, True, (True, False, False)),
        (host_signals.OUTAGE, 404, True, NOW - 30 * D, False, (False, False, False)),
        (host_signals.OUTAGE, 503, True, NOW - 60, False, (False, False, False)),
        (host_signals.OUTAGE, 404, False, NOW - D, False, (False, True, False)),
        (host_signals.OUTAGE, 404, False, NOW - 3 * D, False, (False, True, True)),
        (host_signals.OUTAGE, 404, False, None, False, (False, True, True)),
        (host_signals.OUTAGE, 500, False, NOW - 30 * D, False, (False, True, False)),
        (host_signals.ORDINARY, None, False, NOW - 60, False, (False, True, False)),
    ],
)
def test_a_failed_poll_pauses_the_host_or_charges_the_channel(
    kind: str,
    status: int | None,
    degraded: bool,
    last_ok_at: float | None,
    burst: bool,
    effect: tuple[bool, bool, bool],
) -> None:
    got = host_signals.failure_effect(
        kind,
        status=status,
        degraded=degraded,
        last_ok_at=last_ok_at,
        now=NOW,
        forbidden_burst=burst,
    )
    assert (got.pause_host, got.charge_channel, got.gone) == effect
