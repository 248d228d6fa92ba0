"""Users as the CLI and the API look them up: by name, by token, the only one."""

from __future__ import annotations

import hmac
from typing import Any

from peewee import fn

from ..errors import NotFound, TubepollerError
from ..models import Subscription, User
from ..subscriptions import hash_token
from .shapes import iso


def user_named(name: str) -> User:
    """Return the user called `name`.

    Raises:
        NotFound: no such user.
    """
    user = User.get_or_none(User.name == name)
    if user is None:
        raise NotFound(f"no user named {name!r} (create one with: tubepoller user add {name})")
    return user


def only_user() -> User:
    """Return the one user, for commands that need no --user when there is one.

    Raises:
        TubepollerError: there is no user, or there are several.
    """
    users = list(User.select().order_by(User.id).limit(2))
    if len(users) == 1:
        return users[0]
    if not users:
        raise TubepollerError("no user yet: create one with `tubepoller user add NAME`")
    raise TubepollerError("several users exist: name one with --user NAME")


def user_for_token(token: str) -> User | None:
    """Return the user an API token belongs to, or None."""
    digest = hash_token(token)
    user = User.get_or_none(User.token_hash == digest)
    # The lookup is by an index; compare in constant time all the same.
    if user is None or not hmac.compare_digest(user.token_hash, digest):
        return None
    return user


def user_by_id(user_id: int) -> User | None:
    """Return the user with this id, or None (a removed user's session ends)."""
    return User.get_or_none(User.id == user_id)


def users(name: str | None = None) -> list[dict[str, Any]]:
    """Return every user (or the one called `name`) with their subscription count, by name.

    One query.
    """
    count = (
        Subscription.select(fn.COUNT(Subscription.id))
        .where(Subscription.user == User.id)
        .alias("subscription_count")
    )
    query = User.select(User, count).order_by(User.name)
    if name is not None:
        query = query.where(User.name == name)
    return [user_json(row) for row in query]


def user_json(user: Any) -> dict[str, Any]:
    """Return a user as `tubepoller user list --json` and /api/users show it (no token)."""
    return {
        "id": user.id,
        "name": user.name,
        "admin": user.is_admin,
        "created_at": iso(user.created_at),
        "subscriptions": getattr(user, "subscription_count", None) or 0,
    }
