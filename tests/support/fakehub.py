"""A WebSub hub on loopback: takes subscription requests, verifies them, pushes.

It behaves as YouTube's hub does (``../shared/YOUTUBE-NOTES.md``): a request is
answered 202 and verified afterwards by a GET to the subscriber's callback
with a random ``hub.challenge``; a subscription counts only when the callback
echoed it. `publish` then POSTs a body to every verified callback of a topic,
signed ``X-Hub-Signature: sha1=<HMAC of the body under hub.secret>``.
`refuse` makes it answer the next requests 503 with a Retry-After, as the real
hub did for weeks. Every request and verification is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

PATH = "/subscribe"


@dataclass
class Verification:
    """One GET the hub made to a callback, and what the callback answered."""

    mode: str
    topic: str
    callback: str
    status: int
    echoed: bool  # the body was the challenge
    at: float


@dataclass
class Subscriber:
    """A verified subscription: where to push and how to sign."""

    callback: str
    secret: str
    lease_s: float
    verified_at: float


@dataclass
class _State:
    requests: list[dict[str, str]] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)  # by topic


class _Handler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        status, headers = self.server.take(form)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


class FakeHub(ThreadingHTTPServer):
    """The hub, served on 127.0.0.1 from a thread; `url` is what subscribers POST to.

    Args:
        lease_s: the lease every verification grants (``hub.lease_seconds``).
    """

    daemon_threads = True

    def __init__(self, lease_s: float = 432000) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lease_s = lease_s
        self.refusals = 0  # answer this many requests 503 from now on
        self.retry_after = 1
        self.state = _State()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{PATH}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def refuse(self, count: int, retry_after: int = 1) -> None:
        """Answer the next `count` requests 503 with ``Retry-After: retry_after``."""
        self.refusals, self.retry_after = count, retry_after

    def take(self, form: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Record a request; answer 503 while refusing, else 202 and verify it after."""
        with self.lock:
            self.state.requests.append({**form, "at": str(time.time())})
            if self.refusals > 0:
                self.refusals -= 1
                return 503, {"Retry-After": str(self.retry_after)}
        # As a real hub, verify after answering: the subscriber records its request first.
        threading.Timer(0.05, self._verify_request, args=(form,)).start()
        return 202, {}

    def _verify_request(self, form: dict[str, str]) -> None:
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        if self.verify(callback, mode, topic).echoed:
            with self.lock:
                if mode == "subscribe":
                    self.state.subscribers[topic] = Subscriber(
                        callback, form.get("hub.secret", ""), self.lease_s, time.time()
                    )
                else:
                    self.state.subscribers.pop(topic, None)

    def verify(self, callback: str, mode: str, topic: str) -> Verification:
        """GET the callback as a hub verifying intent; record and return its answer."""
        challenge = secrets.token_urlsafe(16)
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            query["hub.lease_seconds"] = str(round(self.lease_s))
        try:
            with urllib.request.urlopen(f"{callback}?{urlencode(query)}", timeout=10) as answer:
                status, body = answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, ""
        found = Verification(mode, topic, callback, status, body == challenge, time.time())
        with self.lock:
            self.state.verifications.append(found)
        return found

    def publish(self, topic: str, body: bytes, *, signature: str | None = "good") -> int:
        """POST `body` to the topic's subscriber, signed; return the callback's status.

        `signature` "good" signs with the subscriber's secret, None sends no
        header, anything else is sent as the header as it is (a forgery).
        """
        subscriber = self.state.subscribers[topic]
        headers = {"Content-Type": "application/atom+xml"}
        if signature == "good":
            digest = hmac.new(subscriber.secret.encode(), body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature"] = f"sha1={digest}"
        elif signature is not None:
            headers["X-Hub-Signature"] = signature
        request = urllib.request.Request(subscriber.callback, body, headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status

    def requests_for(self, topic: str) -> list[dict[str, str]]:
        with self.lock:
            return [r for r in self.state.requests if r.get("hub.topic") == topic]

    def verified(self, topic: str, mode: str = "subscribe") -> list[Verification]:
        with self.lock:
            return [
                v
                for v in self.state.verifications
                if v.topic == topic and v.mode == mode and v.echoed
            ]


def push_body(channel_id: str, video_id: str, base: str) -> bytes:
    """Return the Atom entry YouTube's hub pushes for one upload."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
        'xmlns="http://www.w3.org/2005/Atom">'
        f'<link rel="hub" href="https://pubsubhubbub.appspot.com"/>'
        f'<link rel="self" href="{base}/xml/feeds/videos.xml?channel_id={channel_id}"/>'
        f"<entry><id>yt:video:{video_id}</id><yt:videoId>{video_id}</yt:videoId>"
        f"<yt:channelId>{channel_id}</yt:channelId><title>pushed</title></entry></feed>"
    ).encode()
