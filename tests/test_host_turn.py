"""Listings' and downloads' turns at their host: wait, refuse while paused, report yt-dlp."""

from __future__ import annotations

import dataclasses

import pytest

from poller import host_store, host_turn
from poller.errors import TransientError
from poller.models import Host

pytestmark = pytest.mark.usefixtures("conn")
NOW = 1_800_000_000.0
URL = "https://www.youtube.com/channel/UC123/videos"
HOST = "www.youtube.com"


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def take(settings, clock: Clock, **kwargs) -> list[str]:
    with host_turn.turn(URL, settings, clock=clock, sleep=clock.sleep, **kwargs) as args:
        return args


def test_a_turn_waits_for_its_slot_and_gives_yt_dlp_the_budgets_sleep(settings) -> None:
    settings = dataclasses.replace(settings, host_rate=2.0)
    clock = Clock()
    assert take(settings, clock) == ["--sleep-requests", "0.5"]
    take(settings, clock, download=True)
    assert clock.slept == [0.0, 0.5]  # the second waits for the next slot, 1/rate later


def test_a_far_slot_or_a_paused_host_is_refused_with_when_to_come_back(settings) -> None:
    settings = dataclasses.replace(settings, host_rate=0.01)  # one request per 100 s
    clock = Clock()
    take(settings, clock)
    with pytest.raises(host_turn.HostBusy) as far:
        take(settings, clock)
    assert far.value.retry_after_s == pytest.approx(100.0)
    host_store.pause(HOST, NOW, "bot_check: Sign in", base=900)
    with pytest.raises(host_turn.HostBusy) as paused:
        take(settings, clock)
    assert paused.value.retry_after_s == pytest.approx(900.0)


def test_a_bot_check_from_yt_dlp_pauses_the_host_and_the_probe_uses_cookies(
    settings, tmp_path
) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    settings = dataclasses.replace(settings, cookies_file=cookies)
    clock = Clock()
    with pytest.raises(host_turn.HostBusy):
        with host_turn.turn(URL, settings, clock=clock, sleep=clock.sleep) as args:
            assert "--cookies" not in args  # only when needed
            raise TransientError("yt-dlp: [youtube] x: Sign in to confirm you're not a bot")
    paused = Host.get(Host.name == HOST)
    assert paused.pause_reason.startswith("bot_check")
    clock.now = paused.paused_until + 1
    with host_turn.turn(URL, settings, clock=clock, sleep=clock.sleep) as args:
        assert args[-2:] == ["--cookies", str(cookies)]  # the probe, after a bot check
    assert Host.get(Host.name == HOST).paused_until is None  # it succeeded
