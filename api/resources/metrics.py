"""/metrics: Prometheus's text exposition of tubepoller's series."""

from __future__ import annotations

from collections.abc import Callable

import falcon


class Metrics:
    """Every process's counters and the fleet's gauges, for a Prometheus scrape.

    Args:
        exposition: returns the body and its content type (`poller.metrics.exposition`).

    No token: Prometheus scrapes carry none. Who may reach it is the bind
    address's choice (TUBEPOLLER_API_BIND, or gunicorn's --bind).
    """

    public = True

    def __init__(self, exposition: Callable[[], tuple[bytes, str]]) -> None:
        self.exposition = exposition

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body, content_type = self.exposition()
        resp.data = body
        resp.content_type = content_type
        resp.cache_control = ["no-store"]
