"""The `queries` scenario: SQL statements per poll, counted from peewee's log.

A poll's statement count must not grow with the new videos it finds or the
subscribers it notifies.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tests.support.querycount import count_queries
from tests.support.synthetic import podcast_feed

from .channels import populate
from .report import metric
from .world import open_world


def _count_poll(channel_id: int, settings: Any) -> tuple[int, str, int]:
    """Poll one channel; return (statements, outcome, new videos)."""
    from poller import pipeline

    with count_queries() as statements:
        result = pipeline.poll_channel(channel_id, time.time(), settings)
    return len(statements), result.outcome, len(result.new_video_ids)


def scenario_queries(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    from poller import host_links, host_store, subscriptions

    with open_world(args, channels=1, uploads=3, validators=False) as world:
        settings = world.settings
        (channel,) = populate(world, 1)
        # Linked to its host, as `subscribe` links a channel, and counted by
        # a tick: the poll spends from the host's budget (poller/cadence.py).
        host_links.backfill(settings, time.time())
        host_store.refresh_shares()
        unchanged, outcome, _ = _count_poll(channel, settings)
        assert outcome == "unchanged", outcome
        world.feeds.control("set", validators=1)
        _count_poll(channel, settings)  # stores the ETag
        not_modified, outcome, _ = _count_poll(channel, settings)
        assert outcome == "not_modified", outcome
        rows = [
            # Each count includes the poll's one INSERT into its history.
            metric("per unchanged poll (200, scanned)", unchanged, "", "<= 4", unchanged <= 4),
            metric("per 304 poll", not_modified, "", "<= 3", not_modified <= 3),
        ]
        per_scale = {}
        for videos, subscribers in ((1, 1), (10, 15), (100, 15)):
            name = f"pod{videos}x{subscribers}"
            url = world.feeds.control("raw", podcast_feed(1), name=name)["url"]
            now = time.time()
            users = [subscriptions.add_user(f"{name}-{i}", now)[0] for i in range(subscribers)]
            feed = [
                subscriptions.subscribe(user, url, "future_only", now, settings).channel
                for user in users
            ][-1]
            _count_poll(feed.id, settings)  # the first poll catalogs episode 0
            world.feeds.control("raw", podcast_feed(1 + videos), name=name)
            count, outcome, new = _count_poll(feed.id, settings)
            assert new == videos, (outcome, new)
            per_scale[(videos, subscribers)] = count
        constant = len(set(per_scale.values())) == 1
        for (videos, subscribers), count in per_scale.items():
            rows.append(
                metric(
                    f"with V={videos} new, S={subscribers} subscribers",
                    count,
                    "",
                    "same at every scale",
                    constant,
                )
            )
        return {
            "scenario": "queries",
            "metrics": rows,
            "values": {
                "unchanged": unchanged,
                "not_modified": not_modified,
                "new": {f"{v},{s_}": c for (v, s_), c in per_scale.items()},
            },
        }
