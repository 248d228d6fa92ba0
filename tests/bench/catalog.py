"""The `catalog` scenario: first catalogs per second, with the yt-dlp pool and without.

A channel's first poll lists its whole catalog with yt-dlp (the feed server
serves ``/channel/UC…/videos`` as an RSS document, which yt-dlp's generic
extractor lists). The same round runs twice in one world on two disjoint sets
of never-cataloged channels: first with ``TUBEPOLLER_YTDLP_WORKERS=0`` (one
``python -m yt_dlp`` per listing, as before the pool), then with the pool at
its default size. The workers are restarted between the rounds so each reads
its setting.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .channels import populate
from .report import log, metric
from .rounds import poll_round
from .world import World, open_world

TARGET = 20.0  # first catalogs per second, the target with the pool


def _round(world: World, s: dict[str, Any], ids: list[int], pool_size: int) -> dict[str, float]:
    from poller import config

    os.environ[config.variable("ytdlp_workers")] = str(pool_size)
    config.override(config.load())  # the in-process worker's settings
    world.start_workers(s["processes"], s["threads"])
    log(f"catalog: {len(ids)} first catalogs, TUBEPOLLER_YTDLP_WORKERS={pool_size}")
    return poll_round(world, ids, timeout=1800, profile=f"catalog-{pool_size}")


def scenario_catalog(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    """Measure first catalogs per second without and with the yt-dlp pool."""
    from poller import config
    from poller.models import Channel, Video

    n = s["catalog_channels"]
    with open_world(args, channels=2 * n, uploads=s["uploads"], latency=s["latency"]) as world:
        ids = populate(world)
        # Never cataloged, nothing stored: each first poll lists the whole catalog.
        Channel.update(cataloged_at=None).execute()
        Video.delete().execute()
        pool_size = config.Settings().ytdlp_workers
        before = _round(world, s, ids[:n], 0)
        after = _round(world, s, ids[n:], pool_size)
        cataloged = Channel.select().where(Channel.cataloged_at.is_null(False)).count()
        ratio = after["rate"] / before["rate"]
        return {
            "scenario": "catalog",
            "metrics": [
                metric("first catalogs/s, one yt-dlp per listing", before["rate"], "/s"),
                metric(
                    f"first catalogs/s, pool of {pool_size} per process",
                    after["rate"],
                    "/s",
                    f">= {TARGET:g}/s",
                    after["rate"] >= TARGET,
                ),
                metric("pool / one yt-dlp per listing", ratio, "x"),
                metric("machine busy, without the pool", 100 * before["machine_busy"], "%"),
                metric("machine busy, with the pool", 100 * after["machine_busy"], "%"),
                metric(
                    "channels cataloged",
                    cataloged,
                    "",
                    str(2 * n),
                    cataloged == 2 * n,
                ),
                metric(
                    "failed polls",
                    before["failed"] + after["failed"],
                    "",
                    "0",
                    before["failed"] + after["failed"] == 0,
                ),
            ],
            "values": {"without": before, "with": after, "pool": pool_size, "ratio": ratio},
        }
