"""Authentication, in one place for every route: bearer tokens, and the page's cookie.

The JSON API takes a bearer token only and never reads a cookie, so a form
another site posts cannot reach it. The status page's resources
(``cookie_session`` set) take the session cookie only, and every form they
receive must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

import falcon

from poller.models import User

from .session import SESSION_COOKIE, SIGNIN_COOKIE, Session, Signer

MAX_TOKEN = 512  # tokens are 43 characters; anything far longer is not one


class Authenticate:
    """Set ``req.context.user`` from ``Authorization: Bearer <token>``, or answer 401.

    Runs in `process_resource`, after routing, so an unknown path is a 404 and
    a resource marked ``public = True`` (the health check) needs no token.
    The token is looked up by its SHA-256; `user_for_token` compares in
    constant time.

    Args:
        user_for_token: returns the user a token belongs to, or None
            (`poller.listings.user_for_token`).
    """

    def __init__(
        self,
        user_for_token: Callable[[str], User | None],
        cookies: CookieSessions | None = None,
    ) -> None:
        self.user_for_token = user_for_token
        self.cookies = cookies

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict
    ) -> None:
        if resource is None:
            return
        if getattr(resource, "cookie_session", None):
            if self.cookies is None:
                raise falcon.HTTPNotFound()
            self.cookies.authenticate(req, resource.cookie_session)
            return
        if getattr(resource, "public", False):
            return
        scheme, _, token = (req.auth or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise falcon.HTTPUnauthorized(
                title="Authentication required",
                description="send 'Authorization: Bearer <token>'; "
                "`tubepoller user add NAME` prints a token",
                challenges=["Bearer"],
            )
        user = self.user_for_token(token) if len(token) <= MAX_TOKEN else None
        if user is None:
            raise falcon.HTTPUnauthorized(
                title="Invalid token",
                description="the bearer token is not valid",
                challenges=['Bearer error="invalid_token"'],
            )
        req.context.user = user


class CookieSessions:
    """Set ``req.context.user`` and ``.session`` from the page's session cookie.

    A GET is served signed in or not (the page shows the sign-in form). A
    POST must carry a ``csrf`` form field: the session's token, or for the
    sign-in form (``cookie_session = "signin"``) the nonce of its signed
    cookie; else 403. A POST of the signed-in page without a session is sent
    back to the sign-in form (303).

    Args:
        signer: signs and checks the cookies (`api.session.Signer`).
        user_by_id: returns a user by id, or None (`poller.listings.user_by_id`).
        clock: the time now, in epoch seconds.
    """

    def __init__(
        self,
        signer: Signer,
        user_by_id: Callable[[int], User | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.user_by_id = user_by_id
        self.clock = clock

    def authenticate(self, req: falcon.Request, kind: str) -> None:
        session, user = self.signed_in(req.cookies.get(SESSION_COOKIE))
        req.context.session = session
        req.context.user = user
        if req.method in ("GET", "HEAD"):
            return
        if kind == "signin":
            nonce = self.signer.unsign("signin", req.cookies.get(SIGNIN_COOKIE)) or {}
            expected = str(nonce.get("n", ""))
        elif session is None:
            raise falcon.HTTPSeeOther("/")
        else:
            expected = session.csrf
        sent = form_field(req, "csrf")
        if not expected or not sent or not hmac.compare_digest(sent, expected):
            raise falcon.HTTPForbidden(
                title="CSRF check failed",
                description="the form's CSRF token is missing or wrong: reload the page",
            )

    def signed_in(self, cookie: str | None) -> tuple[Session | None, User | None]:
        """Return the session of a cookie and its user; (None, None) unless both are valid.

        A session ends when its user is removed or their token rotated: it
        keeps a fingerprint of the token's hash, checked here.
        """
        session = self.signer.session(cookie, self.clock())
        if session is None:
            return None, None
        user = self.user_by_id(session.user_id)
        if user is None or not hmac.compare_digest(
            self.signer.fingerprint(user.token_hash), session.fingerprint
        ):
            return None, None
        return session, user


def form_field(req: falcon.Request, name: str) -> str:
    """Return a field of an HTML form's body ('' when absent or not a form)."""
    if not (req.content_type or "").startswith(falcon.MEDIA_URLENCODED):
        return ""
    value = req.get_media(default_when_empty={}).get(name, "")
    if isinstance(value, list):  # sent twice: take neither
        return ""
    return str(value)


def current_user(req: falcon.Request) -> User:
    """Return the authenticated caller of a request."""
    return req.context.user


def require_admin(req: falcon.Request, action: str = "use scope=all") -> None:
    """Answer 403 unless the caller is an admin; the answer names the `action` refused."""
    if not current_user(req).is_admin:
        raise falcon.HTTPForbidden(description=f"only an admin may {action}")
