"""The `freshness` scenario: upload → event latency of a simulated fleet, per cadence rule.

A discrete-event simulation in virtual time (fast and deterministic: a
seeded RNG, no clock, no network, no database). What is simulated:

- a fleet of N channels on one YouTube host at its default rate (2 req/s)
  and the default interval bounds (300 s to 24 h); each channel belongs to a
  class, 5 % hourly, 20 % daily, 50 % weekly, 25 % monthly, and uploads with
  gaps drawn from a gamma distribution around its class's mean gap (shape 4:
  a gap varies by about ±50 %), from a random phase; each channel starts
  with the 10 uploads before the start in its history, as a channel that
  has been polled for a while has;
- the tick every 60 s, as `poller.enqueue` does it: it claims due channels
  (most overdue first), no more of the host than `hosts.tick_allowance`
  lets it within the minute, reserves their slots (`hosts.reserve_slots`)
  and sends each poll at its slot (today) or at the later of its slot and
  its due time, looking AHEAD_S ahead (the new rule);
- a poll at time t finds every upload up to t (a poll takes no time here;
  through the real pipeline one adds well under a second), merges them into
  the history (`schedule.merge_history`) and reschedules by the rule:
  today's, `schedule.interval_after_success` (a typical gap / 24), or the
  budget's, `cadence.budget_interval`, with the host's channel count and
  weight sum as the last tick counted them (`host_store.refresh_shares`);
- with push: a share of the uploads (`--push-share`, 90 %) is pushed 1–5 s
  after it, and the push sends a poll of its channel through the claim at
  the next free slot (refused, as in `enqueue`, when the channel is claimed
  already or the minute's budget is spent); trust in push follows
  `websub.healthy_after_poll` (a poll that finds an upload no push announced
  makes it unhealthy), and while it is healthy the channel polls at the
  sanity interval `websub.sanity_interval` (× 8, at most 6 h).

Latency is measured for uploads from the second day on (the first lets the
weights and cadences settle); requests per channel per hour count every
poll of the host in the same window.
"""

from __future__ import annotations

import argparse
import heapq
import random
from dataclasses import dataclass
from typing import Any

from .report import log, metric

HOUR, DAY = 3600.0, 86400.0
# (class, share of the fleet, mean gap between uploads)
CLASSES = (("hourly", 0.05, HOUR), ("daily", 0.20, DAY), ("weekly", 0.50, 7 * DAY))
CLASSES += (("monthly", 0.25, 30 * DAY),)
GAP_SHAPE = 4.0
RATE = 2.0  # requests/s: the YouTube host's default budget
T0 = 1_800_000_000.0
WARMUP = DAY
SEED = 12


@dataclass
class _Channel:
    kind: str
    uploads: list[float]  # every upload time, ascending
    found: int  # index of the first upload no poll found yet
    history: list[float]
    next_poll_at: float = 0.0
    claimed: bool = False
    weight: float = 0.0
    healthy: bool = True  # push trusted (push runs only)
    pending: bool = False  # a push came since the last poll


def _fleet(n: int, days: float, rng: random.Random) -> list[_Channel]:
    end = T0 + days * DAY
    channels = []
    for kind, share, gap in CLASSES:
        for _ in range(round(n * share)):
            t = T0 - 11 * gap + rng.uniform(0, gap)
            times = []
            while t < end:
                times.append(t)
                t += rng.gammavariate(GAP_SHAPE, gap / GAP_SHAPE)
            before = [u for u in times if u <= T0]
            channels.append(_Channel(kind, times, len(before), before[-10:]))
    return channels


def simulate(
    rule: str, n: int, days: float, push_share: float | None, seed: int = SEED
) -> dict[str, Any]:
    """Run one rule ("today" or "budget") over a fleet; return its latencies and requests."""
    from poller import cadence, enqueue, hosts, schedule, websub
    from poller.config import Settings

    settings = Settings()
    bounds = schedule.Bounds(settings.min_interval, settings.max_interval)
    rng = random.Random(seed)
    fleet = _fleet(n, days, rng)
    push = push_share is not None
    ahead = enqueue.AHEAD_S if rule == "budget" else 0.0
    share = cadence.HostShare(len(fleet), 0.0, RATE)
    total_weight = 0.0

    def interval(ch: _Channel, now: float) -> float:
        nonlocal total_weight
        if rule == "today":
            wait = schedule.interval_after_success(ch.history, now, bounds)
        else:
            planned = cadence.budget_interval(ch.history, now, share, bounds)
            total_weight += planned.weight - ch.weight
            ch.weight, wait = planned.weight, planned.interval_s
        if push and ch.healthy:
            wait = websub.sanity_interval(wait, bounds)
        return wait

    events: list[tuple[float, int, str, int]] = []  # (time, seq, kind, channel)
    seq = 0

    def at(time: float, kind: str, index: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (time, seq, kind, index))

    due: list[tuple[float, int]] = []
    fair = cadence.fair_interval(len(fleet), RATE)
    for index, ch in enumerate(fleet):
        if rule == "budget":
            ch.weight = cadence.weight(ch.history, T0, fair)
            total_weight += ch.weight
        first = schedule.interval_after_success(ch.history, T0, bounds)
        ch.next_poll_at = T0 + rng.uniform(0, first)  # the fleet's polls spread out
        heapq.heappush(due, (ch.next_poll_at, index))
        if push:
            for u in ch.uploads[ch.found :]:
                if rng.random() < push_share:
                    at(u + rng.uniform(1, 5), "push", index)
    end = T0 + days * DAY
    at(T0, "tick", -1)
    next_slot = 0.0
    latencies: dict[str, list[float]] = {kind: [] for kind, _, _ in CLASSES}
    polls = 0
    while events:
        now, _, kind, index = heapq.heappop(events)
        if now > end + bounds.max_s:
            break
        if kind == "tick":
            share = cadence.HostShare(len(fleet), total_weight, RATE)  # refresh_shares
            allow = hosts.tick_allowance(next_slot, None, None, now, RATE)
            claimed = []
            while due and due[0][0] <= now + ahead and len(claimed) < allow:
                when, i = heapq.heappop(due)
                if fleet[i].claimed or when != fleet[i].next_poll_at:
                    continue  # stale: polled since, or claimed by a push
                fleet[i].claimed = True
                claimed.append((i, when))
            slots, next_slot = hosts.reserve_slots(next_slot, now, len(claimed), RATE)
            for (i, when), slot in zip(claimed, slots, strict=True):
                at(max(slot, when) if rule == "budget" else slot, "poll", i)
            if now < end + bounds.max_s:
                at(now + 60, "tick", -1)
        elif kind == "push":
            ch = fleet[index]
            ch.pending = True
            if not ch.claimed and hosts.tick_allowance(next_slot, None, None, now, RATE) > 0:
                (slot,), next_slot = hosts.reserve_slots(next_slot, now, 1, RATE)
                ch.claimed = True
                at(slot, "poll", index)
        else:
            ch = fleet[index]
            ch.claimed = False
            if T0 + WARMUP <= now <= end:
                polls += 1
            new = []
            while ch.found < len(ch.uploads) and ch.uploads[ch.found] <= now:
                upload = ch.uploads[ch.found]
                if T0 + WARMUP <= upload <= end:
                    latencies[ch.kind].append(now - upload)
                new.append(upload)
                ch.found += 1
            if push:
                ch.healthy = websub.healthy_after_poll(ch.healthy, ch.pending, bool(new))
                ch.pending = False
            ch.history = schedule.merge_history(ch.history, new)
            ch.next_poll_at = schedule.next_poll_at(now, interval(ch, now), None, bounds)
            heapq.heappush(due, (ch.next_poll_at, index))
    hours = (end - T0 - WARMUP) / HOUR
    every = sorted(x for values in latencies.values() for x in values)
    return {
        "uploads": len(every),
        "p50_s": _quantile(every, 0.5),
        "p95_s": _quantile(every, 0.95),
        "p50_by_class_s": {kind: _quantile(sorted(v), 0.5) for kind, v in latencies.items()},
        "requests_per_channel_hour": polls / len(fleet) / hours,
        "budget_share": polls / hours / 3600 / RATE,
    }


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def scenario_freshness(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    n, days, push_share = s["freshness_channels"], s["freshness_days"], s["push_share"]
    runs = {
        "today (median gap / 24)": simulate("today", n, days, None),
        "budget": simulate("budget", n, days, None),
        f"budget + push ({push_share:.0%} pushed)": simulate("budget", n, days, push_share),
    }
    metrics = []
    for name, r in runs.items():
        log(f"freshness: {name}: {r}")
        by_class = " / ".join(f"{v / 60:.1f}" for v in r["p50_by_class_s"].values())
        metrics += [
            metric(f"{name}: p50 / p95 upload→event", f"{r['p50_s']:.0f} / {r['p95_s']:.0f} s"),
            metric(f"{name}: p50 hourly/daily/weekly/monthly", f"{by_class} min"),
            metric(
                f"{name}: requests per channel per hour",
                round(r["requests_per_channel_hour"], 2),
                "",
                f"{r['budget_share']:.0%} of {RATE:g}/s",
            ),
        ]
    budget = runs["budget"]
    metrics.append(
        metric(
            "budget: p50 upload→event, no push",
            budget["p50_s"],
            "s",
            "<= 300 s, <= 50 % of the budget",
            budget["p50_s"] <= 300 and budget["budget_share"] <= 0.5,
        )
    )
    return {
        "scenario": "freshness",
        "metrics": metrics,
        "values": runs,
        "note": f"{n} channels on one host at {RATE:g}/s, {days:g} simulated days, seed {SEED}",
    }
