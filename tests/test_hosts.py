"""The pure host rules: keys, rates, slots, classification, pauses, outages."""

from __future__ import annotations

import pytest

from poller import host_signals, hosts

NOW = 1_800_000_000.0
YOUTUBE = "https://www.youtube.com"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.youtube.com/feeds/videos.xml?channel_id=UC1", "www.youtube.com"),
        ("https://WWW.YouTube.com:443/x", "www.youtube.com"),
        ("http://example.com:80/feed", "example.com"),
        ("http://example.com:8080/feed", "example.com:8080"),
        ("https://example.com:80/feed", "example.com:80"),
        ("http://127.0.0.1:8001/feeds/videos.xml", "127.0.0.1:8001"),
        ("http://[::1]:9000/feed", "[::1]:9000"),
        ("http://user:pw@Example.org/feed", "example.org"),
    ],
)
def test_a_host_key_is_the_lower_case_host_and_a_non_default_port(url: str, key: str) -> None:
    assert hosts.host_key(url) == key


def test_the_youtube_host_gets_2_per_second_others_10_unless_a_rate_is_set() -> None:
    assert hosts.default_rate("www.youtube.com", YOUTUBE, None) == 2
    assert hosts.default_rate("example.com", YOUTUBE, None) == 10
    assert hosts.default_rate("127.0.0.1:8001", "http://127.0.0.1:8001", None) == 2
    assert hosts.default_rate("127.0.0.1:8002", "http://127.0.0.1:8001", None) == 10
    assert hosts.default_rate("www.youtube.com", YOUTUBE, 0.5) == 0.5
    assert hosts.default_rate("example.com", YOUTUBE, 0.5) == 0.5


def test_slots_start_now_when_the_host_is_idle_and_are_one_interval_apart() -> None:
    slots, after = hosts.reserve_slots(0.0, NOW, 3, rate=2)
    assert slots == [NOW, NOW + 0.5, NOW + 1.0]
    assert after == NOW + 1.5


def test_slots_queue_behind_earlier_reservations() -> None:
    slots, after = hosts.reserve_slots(NOW + 10, NOW, 2, rate=10)
    assert slots == pytest.approx([NOW + 10, NOW + 10.1])
    assert after == pytest.approx(NOW + 10.2)


@pytest.mark.parametrize(
    ("next_slot_at", "rate", "expected"),
    [(0.0, 2, 120), (NOW + 30, 2, 60), (NOW + 60, 2, 0), (NOW + 120, 10, 0), (0.0, 10, 600)],
)
def test_a_tick_claims_only_what_the_budget_allows_in_the_next_minute(
    next_slot_at: float, rate: float, expected: int
) -> None:
    assert hosts.slots_within(next_slot_at, NOW, rate, horizon=60) == expected


@pytest.mark.parametrize(
    ("next_slot_at", "paused_until", "probe_until", "allowed"),
    [
        (0.0, None, None, 120),
        (NOW + 50, None, None, 20),
        (0.0, NOW + 600, None, 0),  # paused
        (0.0, NOW - 1, None, 1),  # the pause ended: one probe
        (0.0, NOW - 1, NOW + 60, 0),  # someone probes
    ],
)
def test_a_tick_claims_by_budget_one_probe_or_nothing(
    next_slot_at: float, paused_until: float | None, probe_until: float | None, allowed: int
) -> None:
    assert hosts.tick_allowance(next_slot_at, paused_until, probe_until, NOW, rate=2) == allowed


def test_deferred_channels_come_back_after_the_pause_spread_over_a_minute() -> None:
    assert hosts.defer_until(NOW + 900, 0.0) == NOW + 900
    assert NOW + 900 < hosts.defer_until(NOW + 900, 0.999) < NOW + 960


def test_a_slot_becomes_a_dramatiq_delay() -> None:
    assert hosts.delay_ms(NOW + 1.5, NOW) == 1500
    assert hosts.delay_ms(NOW - 3, NOW) == 0


def test_a_reservation_row_says_what_was_granted() -> None:
    granted = hosts.read_reservation((NOW + 1.5, None, None, None), 3, 2, "me")
    assert granted.slots == (NOW, NOW + 0.5, NOW + 1.0) and not granted.probe
    probe = hosts.read_reservation((NOW + 0.5, NOW - 1, NOW + 120, "me"), 3, 2, "me")
    assert probe.slots == (NOW,) and probe.probe
    waiting = hosts.read_reservation((NOW, NOW - 1, NOW + 120, "other"), 3, 2, "me")
    assert waiting.slots == () and waiting.blocked_until == NOW + 120
    paused = hosts.read_reservation((NOW, NOW + 900, None, None), 1, 2, "me")
    assert paused.slots == () and paused.blocked_until == NOW + 900


@pytest.mark.parametrize(
    ("paused_until", "probe_until", "state"),
    [
        (None, None, "open"),
        (NOW + 1, None, "paused"),
        (NOW - 1, None, "probe_free"),
        (NOW - 1, NOW + 60, "probing"),
        (NOW - 1, NOW - 5, "probe_free"),  # the probe's lease ran out
    ],
)
def test_the_probe_rule(paused_until: float | None, probe_until: float | None, state: str) -> None:
    assert hosts.probe_state(paused_until, probe_until, NOW) == state


@pytest.mark.parametrize(
    ("level", "retry_after", "length"),
    [
        (0, None, 900),
        (1, None, 1800),
        (4, None, 14400),
        (5, None, 21600),  # 28,800 capped at 6 h
        (40, None, 21600),
        (0, 3600, 3600),  # never shorter than Retry-After
        (0, 60, 900),
        (5, 86400, 86400),  # the host's own word beats the cap
    ],
)
def test_a_pause_doubles_per_level_up_to_six_hours_and_honours_retry_after(
    level: int, retry_after: float | None, length: float
) -> None:
    assert hosts.pause_length(level, 900, retry_after) == length


def test_a_first_pause_then_reports_during_it_then_a_failed_probe() -> None:
    until, level = hosts.next_pause(None, 0, NOW, 900)
    assert (until, level) == (NOW + 900, 0)
    # Ten workers report the same bot check: the pause does not double.
    assert hosts.next_pause(until, level, NOW + 5, 900) == (until, 0)
    # A later Retry-After during the pause extends it, at the same level.
    assert hosts.next_pause(until, level, NOW + 5, 900, retry_after=1800) == (NOW + 1805, 0)
    # The probe at the end fails: twice as long.
    assert hosts.next_pause(until, level, NOW + 901, 900) == (NOW + 901 + 1800, 1)


def test_ytdlp_sleeps_follow_the_host_rate() -> None:
    assert hosts.ytdlp_sleep_args(2) == ["--sleep-requests", "0.5"]
    assert hosts.ytdlp_sleep_args(10) == ["--sleep-requests", "0.1"]
    assert hosts.ytdlp_sleep_args(2, download=True) == [
        "--sleep-requests",
        "0.5",
        "--sleep-interval",
        "2",
        "--max-sleep-interval",
        "4",
    ]
    assert hosts.ytdlp_sleep_args(3)[1] == "0.333"


def test_cookies_are_passed_only_when_needed() -> None:
    assert hosts.cookies_args(None, [host_signals.BOT_CHECK]) == []
    assert hosts.cookies_args("/c.txt", []) == []
    assert hosts.cookies_args("/c.txt", [host_signals.RATE_LIMITED]) == []
    assert hosts.cookies_args("/c.txt", [host_signals.BOT_CHECK]) == ["--cookies", "/c.txt"]
    assert hosts.cookies_args("/c.txt", ["members_only"]) == ["--cookies", "/c.txt"]


def test_host_settings_have_defaults_and_checks(tmp_path) -> None:
    from poller import config
    from poller.errors import ConfigError

    default = config.load({})
    assert (default.host_rate, default.host_pause, default.cookies_file) == (None, 900, None)
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    loaded = config.load(
        {
            "TUBEPOLLER_HOST_RATE": "0.5",
            "TUBEPOLLER_HOST_PAUSE": "60",
            "TUBEPOLLER_COOKIES_FILE": str(cookies),
        }
    )
    assert (loaded.host_rate, loaded.host_pause, loaded.cookies_file) == (0.5, 60, cookies)
    for name, value in [
        ("HOST_RATE", "0"),
        ("HOST_RATE", "fast"),
        ("HOST_PAUSE", "0"),
        ("HOST_PAUSE", str(7 * 3600)),
        ("COOKIES_FILE", str(tmp_path / "missing.txt")),
    ]:
        with pytest.raises(ConfigError, match="TUBEPOLLER_" + name):
            config.load({"TUBEPOLLER_" + name: value})
