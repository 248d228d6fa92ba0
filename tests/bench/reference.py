"""The design the fan-out replaces: one loop, one connection, parse every feed.

Fetch every channel's feed in turn on a single keep-alive connection and
parse each body with feedparser, whether or not anything changed. The
benchmark runs it in the same run as the real pipeline and reports the ratio.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
from collections.abc import Sequence

import feedparser

from tests.support.synthetic import channel_id


def sequential_poll(base: str, numbers: Sequence[int], timeout: float = 15.0) -> dict[str, float]:
    """Poll the feed server's channels `numbers` one after another.

    Returns:
        feeds, seconds, feeds/s and the entries parsed.
    """
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    entries = 0
    started = time.perf_counter()
    for number in numbers:
        connection.request("GET", f"/feeds/videos.xml?channel_id={channel_id(number)}")
        response = connection.getresponse()
        body = response.read()
        if response.status == 200:
            entries += len(feedparser.parse(body).entries)
    elapsed = time.perf_counter() - started
    connection.close()
    return {
        "feeds": len(numbers),
        "seconds": elapsed,
        "rate": len(numbers) / elapsed,
        "entries": entries,
    }
