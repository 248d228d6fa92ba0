"""Bearer-token authentication, in one place for every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from poller.models import User

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

    def __init__(self, user_for_token: Callable[[str], User | None]) -> None:
        self.user_for_token = user_for_token

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict
    ) -> None:
        if resource is None or getattr(resource, "public", False):
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


def current_user(req: falcon.Request) -> User:
    """Return the authenticated caller of a request."""
    return req.context.user


def require_admin(req: falcon.Request, action: str = "use scope=all") -> None:
    """Answer 403 unless the caller is an admin; the answer names the `action` refused."""
    if not current_user(req).is_admin:
        raise falcon.HTTPForbidden(description=f"only an admin may {action}")
