"""A fake YouTube that misbehaves host-wide, as the real one does on a bad day.

`FakeYouTube` is the test feed server (`FeedServer`: channels, feeds, catalog
pages, media) with one switch for the whole host:

- ``normal``: answers as `FeedServer` does;
- ``bot_check``: every page is YouTube's "Sign in to confirm you’re not a bot"
  page, HTML with status 200, as YouTube serves it;
- ``rate_limited``: 429 with a Retry-After, for everything (a 429 storm);
- ``forbidden``: 403 for everything (what a blocked address sees);
- ``not_found``: 404 for every feed and page (the Feb 2026 feed outage);
- ``server_error``: 503 for everything;
- ``invalid_xml``: feeds answer 200 with a body that is not well-formed XML.

It counts the requests answered in each mode, so a test can assert how many
reached the host while it should have been paused. The test switches the
mode in-process (`set_mode`, `mode`) or, from another process, with
``POST /_bench/mode?name=bot_check&retry_after=60``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .feedserver import FeedServer, _Handler

NORMAL = "normal"
BOT_CHECK = "bot_check"
RATE_LIMITED = "rate_limited"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
SERVER_ERROR = "server_error"
INVALID_XML = "invalid_xml"
MODES = (NORMAL, BOT_CHECK, RATE_LIMITED, FORBIDDEN, NOT_FOUND, SERVER_ERROR, INVALID_XML)

# The shape of YouTube's page; its sentence is what yt-dlp and tubepoller look for.
BOT_CHECK_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>YouTube</title></head><body>'
    '<div id="contents"><h1>Sign in to confirm you’re not a bot</h1>'
    "<p>This helps protect our community. Learn more</p>"
    '<a href="https://accounts.google.com/ServiceLogin">Sign in</a></div></body></html>'
).encode()
# A feed cut off mid-entry, with a bare ampersand: no XML parser accepts it.
INVALID_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>Tom & Jerry</title><entry><id>yt:video:"
)
_FIXED = {
    FORBIDDEN: (403, b"Forbidden", "text/html; charset=utf-8"),
    NOT_FOUND: (404, b"<html><body>Not Found</body></html>", "text/html; charset=utf-8"),
    SERVER_ERROR: (503, b"Service Unavailable", "text/html; charset=utf-8"),
    BOT_CHECK: (200, BOT_CHECK_PAGE, "text/html; charset=utf-8"),
}


class _ModeHandler(_Handler):
    server: FakeYouTube

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if self.path.startswith("/_bench/"):
            super().do_GET()
            return
        mode = self.server.count_mode(self.path)
        if mode == NORMAL:
            super().do_GET()
            return
        self.server.count(self.path)
        try:
            self._misbehave(mode)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _misbehave(self, mode: str) -> None:
        if mode == RATE_LIMITED:
            headers = {"Retry-After": str(self.server.retry_after), "Content-Type": "text/html"}
            self._send(429, b"Too Many Requests", headers)
        elif mode == INVALID_XML:
            self._send(200, INVALID_FEED, {"Content-Type": "application/atom+xml; charset=UTF-8"})
        else:
            status, body, content_type = _FIXED[mode]
            self._send(status, body, {"Content-Type": content_type})


class FakeYouTube(FeedServer):
    """A `FeedServer` whose whole host can be switched to a failure mode.

    Args:
        *args, **kwargs: as for `FeedServer` (channels, uploads, validators …).

    Attributes:
        mode_counts: requests answered in each mode since the server started.
        retry_after: the Retry-After the 429s carry, seconds.
    """

    def __init__(self, *args: object, start: bool = True, **kwargs: object) -> None:
        super().__init__(*args, start=False, **kwargs)  # type: ignore[arg-type]
        self.RequestHandlerClass = _ModeHandler
        self.current = NORMAL
        self.retry_after = 120
        self.mode_counts = dict.fromkeys(MODES, 0)
        self.feeds_only = False  # the mode hits /feeds/ only: the site itself works
        self._mode_lock = threading.Lock()
        if start:
            threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def set_mode(
        self, mode: str, retry_after: int | None = None, *, feeds_only: bool = False
    ) -> None:
        """Answer every request in `mode` from now on (NORMAL restores the feeds).

        With `feeds_only`, only the feeds misbehave and the channel pages
        yt-dlp lists answer as usual: the feed outage of February 2026.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._mode_lock:
            self.current = mode
            self.feeds_only = feeds_only
            if retry_after is not None:
                self.retry_after = retry_after

    @contextmanager
    def mode(self, mode: str, retry_after: int | None = None) -> Iterator[FakeYouTube]:
        """Answer in `mode` inside the block, then normally again."""
        self.set_mode(mode, retry_after)
        try:
            yield self
        finally:
            self.set_mode(NORMAL)

    def count_mode(self, path: str = "/feeds/") -> str:
        """Count one request to `path` in the mode it is answered in; return the mode."""
        with self._mode_lock:
            mode = self.current
            if self.feeds_only and not path.startswith("/feeds/"):
                mode = NORMAL
            self.mode_counts[mode] += 1
            return mode

    def stats(self) -> dict[str, float]:
        return {**super().stats(), **{f"mode_{m}": n for m, n in self.mode_counts.items()}}

    def control(self, command: str, query: dict[str, str], body: bytes) -> dict:
        """Add ``mode?name=…&retry_after=…`` to `FeedServer.control`."""
        if command == "mode":
            retry_after = query.get("retry_after")
            self.set_mode(query["name"], int(retry_after) if retry_after else None)
            return {"mode": self.current, "counts": self.mode_counts}
        return super().control(command, query, body)
