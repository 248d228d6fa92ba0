"""Manage users: remove one, rotate a token. `subscriptions.add_user` creates them."""

from __future__ import annotations

import time
from typing import Any

from .errors import NotFound
from .models import Subscription, User, db
from .subscriptions import hash_token, new_token, settle_polling


def remove_user(name: str) -> User:
    """Delete a user with their subscriptions, references and events.

    Channels they alone subscribed to stop being polled, as when they
    unsubscribe; cataloged videos stay.

    Raises:
        NotFound: no such user.
    """
    with db.atomic():
        user = User.get_or_none(User.name == name)
        if user is None:
            raise NotFound(f"no user named {name!r}")
        theirs: Any = Subscription.select(Subscription.channel).where(Subscription.user == user.id)
        channels = [channel_id for (channel_id,) in theirs.tuples()]
        user.delete_instance(recursive=True)
        settle_polling(channels, time.time())
    return user


def rotate_token(name: str) -> str:
    """Give a user a new API token and return it; the old one stops working at once.

    Only the token's hash is stored, so the old token matches no user as
    soon as this commits.

    Raises:
        NotFound: no such user.
    """
    token = new_token()
    updated = User.update(token_hash=hash_token(token)).where(User.name == name).execute()
    if not updated:
        raise NotFound(f"no user named {name!r}")
    return token
