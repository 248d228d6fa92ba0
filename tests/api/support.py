"""Helpers of the API tests: a caller with a token, an RSS feed, the broker's queues."""

from __future__ import annotations

import hashlib
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any
from xml.sax.saxutils import escape

import falcon.testing
from dramatiq import Message

from poller.broker import POLL_QUEUE
from poller.subscriptions import add_user
from tests.support.feedserver import FeedServer
from tests.support.synthetic import rss_document


class Caller:
    """A user of the API with their token, talking through the test client."""

    def __init__(self, client: falcon.testing.TestClient, name: str, admin: bool = False) -> None:
        self.client = client
        self.user, self.token = add_user(name, time.time(), admin=admin)
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> falcon.testing.Result:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.simulate_request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.request("DELETE", path, **kwargs)

    def subscribe(self, url: str, mode: str = "catalog_only") -> int:
        """Subscribe and return the channel id (catalog_only: no downloads start)."""
        result = self.post("/api/channels", json={"url": url, "mode": mode})
        assert result.status_code in (200, 201), result.text
        return result.json["id"]


class Feed:
    """An RSS feed on the local server whose items a test adds; ETags give 304s."""

    def __init__(self, server: FeedServer, name: str) -> None:
        self.server = server
        self.items: list[tuple[str, str, float]] = []  # guid, title, published
        self.status = 200
        self.url = f"{server.base}/raw/{name}"
        server.routes[f"/raw/{name}"] = self._answer

    def add(self, guid: str, title: str | None = None, published: float | None = None) -> str:
        self.items.append((guid, title or f"Episode {guid}", published or time.time()))
        return guid

    def body(self) -> bytes:
        items = "".join(
            f"<item><guid>{escape(guid)}</guid><title>{escape(title)}</title>"
            f"<link>{self.server.base}/watch?v={escape(guid)}</link>"
            f"<pubDate>{formatdate(published, usegmt=True)}</pubDate></item>"
            for guid, title, published in reversed(self.items)
        )
        head = (
            f"<title>Test feed</title><link>{self.server.base}/</link><description>d</description>"
        )
        return rss_document(head, items)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        send = handler._send  # type: ignore[attr-defined]
        if self.status != 200:
            send(self.status, b"unavailable")
            return
        body = self.body()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if handler.headers.get("If-None-Match") == etag:
            send(304, b"", {"ETag": etag})
        else:
            send(200, body, {"Content-Type": "application/rss+xml", "ETag": etag})


def queued(broker: Any, queue: str = POLL_QUEUE) -> list[tuple[Any, ...]]:
    """Return the arguments of the messages waiting on a queue of the in-process broker."""
    return [tuple(Message.decode(data).args) for data in list(broker.queues[queue].queue)]
