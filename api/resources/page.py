"""/, /signin, /signout: the status page, rendered on the server (Jinja2).

The page reads through the read layer like the JSON API; it signs in with an
API token and keeps a signed session cookie (`api.session`). Everything it
shows is escaped: titles and errors come from feeds anyone can write.
"""

from __future__ import annotations

import secrets
from importlib import resources
from typing import Any

import falcon
import jinja2

from poller.listings import DOWNLOAD_STATES, NOT_WANTED

from ..auth import MAX_TOKEN, form_field
from ..schemas import MODE
from ..session import (
    NOTICE_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    SIGNIN_COOKIE,
    Signer,
)

RECENT_UPLOADS = 30
DOWNLOADS_PER_STATE = 10
SHOWN_DOWNLOADS = tuple(s for s in DOWNLOAD_STATES if s != NOT_WANTED)
MODES = tuple(MODE["enum"])
STYLE = (resources.files("api") / "static" / "page.css").read_bytes


def templates() -> jinja2.Environment:
    """Return the page's templates (shipped in api/templates), every value escaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["href"] = web_link
    return env


def web_link(url: str | None) -> str | None:
    """Return a feed's URL when a browser may follow it: http(s) only, never javascript:."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


class Cookies:
    """Set and clear the page's cookies: HttpOnly, SameSite=Strict, Path=/, Secure on https."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def set(
        self, req: falcon.Request, resp: falcon.Response, name: str, value: str, age: int
    ) -> None:
        resp.set_cookie(
            name,
            value,
            max_age=age,
            path="/",
            secure=req.scheme == "https",
            http_only=True,
            same_site="Strict",
        )

    def clear(self, resp: falcon.Response, name: str) -> None:
        resp.unset_cookie(name, path="/", same_site="Strict")

    def notice(self, req: falcon.Request, resp: falcon.Response, text: str, error: bool) -> None:
        """Leave a one-line notice for the page the redirect leads to."""
        value = self.signer.sign("notice", {"m": text[:300], "e": error})
        self.set(req, resp, NOTICE_COOKIE, value, 60)

    def take_notice(self, req: falcon.Request, resp: falcon.Response) -> dict[str, Any] | None:
        found = self.signer.unsign("notice", req.cookies.get(NOTICE_COOKIE))
        if NOTICE_COOKIE in req.cookies:
            self.clear(resp, NOTICE_COOKIE)
        if found is None:
            return None
        return {"text": str(found.get("m", "")), "error": bool(found.get("e"))}


def see_other(resp: falcon.Response) -> None:
    """Answer a form with 303 back to the page (POST, redirect, GET)."""
    resp.status = falcon.HTTP_303
    resp.location = "/"


class StatusPage:
    """The page: the sign-in form, or the user's channels, videos, hosts and queues.

    Args:
        services: the app's `Services`: listings, clock, queue_depths.
        signer: signs the page's cookies.
    """

    cookie_session = "session"

    def __init__(self, services: Any, signer: Signer) -> None:
        self.listings = services.listings
        self.clock = services.clock
        self.queue_depths = services.queue_depths
        self.cookies = Cookies(signer)
        self.signer = signer
        self.env = templates()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = ["no-store"]
        notice = self.cookies.take_notice(req, resp)
        user = req.context.user
        if user is None:
            if SESSION_COOKIE in req.cookies:  # expired, forged, or its token rotated
                self.cookies.clear(resp, SESSION_COOKIE)
            # One nonce per browser: a second tab's form must not void the first's.
            kept = self.signer.unsign("signin", req.cookies.get(SIGNIN_COOKIE))
            nonce = str(kept["n"]) if kept and kept.get("n") else secrets.token_urlsafe(24)
            signed = self.signer.sign("signin", {"n": nonce})
            self.cookies.set(req, resp, SIGNIN_COOKIE, signed, 3600)
            resp.text = self.env.get_template("signin.html").render(csrf=nonce, notice=notice)
            return
        resp.text = self.env.get_template("page.html").render(
            **self.view(user), user=user, csrf=req.context.session.csrf, notice=notice
        )

    def on_get_style(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/css"
        resp.data = STYLE()
        resp.cache_control = ["public", "max-age=3600"]

    def on_post_signout(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.cookies.clear(resp, SESSION_COOKIE)
        see_other(resp)

    def view(self, user: Any) -> dict[str, Any]:
        """Return what the page shows a user: theirs only, and the fleet's hosts and queues."""
        channels = self.listings.channels(user)
        for channel in channels:
            channel["health"] = self.listings.channel_health(channel)
        titles = {c["id"]: c["title"] or c["url"] for c in channels}
        downloads = [
            video
            for state in SHOWN_DOWNLOADS
            for video in self.listings.videos(user, status=state, limit=DOWNLOADS_PER_STATE).items
        ]
        return {
            "channels": channels,
            "titles": titles,
            "modes": MODES,
            "uploads": self.listings.videos(user, limit=RECENT_UPLOADS).items,
            "downloads": downloads,
            "hosts": [h for h in self.listings.hosts(self.clock()) if h["paused"] or h["degraded"]],
            "queues": sorted(self.queue_depths().items()),
        }


class SignIn:
    """Trade an API token from the sign-in form for a session cookie.

    Args:
        services: the app's `Services`: listings, clock.
        signer: signs the session.
    """

    cookie_session = "signin"

    def __init__(self, services: Any, signer: Signer) -> None:
        self.listings = services.listings
        self.clock = services.clock
        self.signer = signer
        self.cookies = Cookies(signer)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        token = form_field(req, "token").strip()
        user = self.listings.user_for_token(token) if 0 < len(token) <= MAX_TOKEN else None
        see_other(resp)
        if user is None:
            self.cookies.notice(req, resp, "That token is not valid.", error=True)
            return
        _, value = self.signer.new_session(user.id, user.token_hash, self.clock())
        self.cookies.set(req, resp, SESSION_COOKIE, value, SESSION_MAX_AGE_S)
        self.cookies.clear(resp, SIGNIN_COOKIE)
