"""Users, their tokens, and who subscribes to which channel."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from peewee import Value

from . import host_store, kinds, sources, websub_store
from .config import Settings
from .errors import AlreadyExists, NotFound, TubepollerError
from .host_links import channel_host
from .include_filter import included
from .models import FUTURE_ONLY, MODES, Channel, Subscription, User, UserVideoRef, Video, db

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def hash_token(token: str) -> str:
    """Return the stored form of an API token (SHA-256; tokens are random)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """Return a fresh random API token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def add_user(name: str, now: float, *, admin: bool = False) -> tuple[User, str]:
    """Create a user and return it with its API token, shown only this once.

    Raises:
        TubepollerError: the name is malformed or taken.
    """
    if not _NAME.fullmatch(name):
        raise TubepollerError("a user name is 1-64 letters, digits, '.', '_' or '-'")
    token = new_token()
    with db.atomic():
        if User.select().where(User.name == name).exists():
            raise AlreadyExists(f"user {name!r} already exists")
        user = User.create(name=name, token_hash=hash_token(token), is_admin=admin, created_at=now)
    return user, token


@dataclass(frozen=True)
class Subscribed:
    """What `subscribe` did.

    Attributes:
        created: False when the user already subscribed.
        previous_mode: the mode an existing subscription had before this call
            changed it; None when it was created or kept its mode.
    """

    channel: Channel
    subscription: Subscription
    created: bool
    previous_mode: str | None = None

    @property
    def mode_changed(self) -> bool:
        """Return True when an existing subscription got another mode."""
        return self.previous_mode is not None


def subscribe(
    user: User,
    url: str,
    mode: str | None,
    now: float,
    settings: Settings,
    include: str | list[str] | None = None,
) -> Subscribed:
    """Subscribe `user` to the channel at `url`, creating the channel if new.

    A channel nobody polled yet is due at once; the caller enqueues its poll.
    The new subscriber gets references to what is cataloged already.
    Subscribing again with another mode changes the subscription's mode,
    as `set_mode` does; with no mode it keeps the one it has.

    Args:
        mode: the tracking mode; None is future_only for a new subscription
            and no change for an existing one.
        include: the kinds to get (`kinds.parse_include`: a list, or
            "video,short"); None is the default for a new subscription and
            no change for an existing one.

    Raises:
        UnusableURL: the URL cannot be polled.
        TubepollerError: the mode is unknown.
        UnknownKind: `include` names no kind, or one that is not includable.
    """
    if mode is not None:
        _check_mode(mode)
    wanted = kinds.include_to_json(include) if include is not None else None
    spec = sources.resolve(url, settings)
    host = channel_host(spec.kind, spec.external_id, spec.feed_url, settings)
    host_id = host_store.ensure_host(host, now)
    with db.atomic():
        Channel.insert(
            kind=spec.kind,
            external_id=spec.external_id,
            feed_url=spec.feed_url,
            created_at=now,
            next_poll_at=now,
            host=host_id,
        ).on_conflict_ignore().execute()
        channel = Channel.get(Channel.feed_url == spec.feed_url)
        if channel.host_id is None:  # a channel from before hosts were linked
            Channel.update(host=host_id).where(Channel.id == channel.id).execute()
            channel.host_id = host_id
        created = bool(
            Subscription.insert(
                user=user,
                channel=channel,
                mode=mode or FUTURE_ONLY,
                created_at=now,
                include=wanted or kinds.DEFAULT_INCLUDE_JSON,
            )
            .on_conflict_ignore()
            .execute()
        )
        subscription = Subscription.get(
            (Subscription.user == user) & (Subscription.channel == channel)
        )
        if channel.next_poll_at is None:  # nobody subscribed any more, or all paused
            settle_polling([channel.id], now)  # a new subscriber wakes it; a paused one not
        previous = None
        if not created and mode is not None and subscription.mode != mode:
            previous, subscription.mode = subscription.mode, mode
            subscription.save(only=[Subscription.mode])
        if not created and wanted is not None and subscription.include != wanted:
            subscription.include = wanted
            subscription.save(only=[Subscription.include])
        if created:
            _reference_existing(user, [channel.id], now)
    return Subscribed(channel, subscription, created, previous)


def _reference_existing(user: User, channel_ids: list[int], now: float) -> None:
    """Give a new subscriber references to what the channels have, of the kinds they include."""
    refs = (
        Subscription.select(Value(user.id), Video.id, Value(now))
        .join(Video, on=(Video.channel == Subscription.channel))
        .where((Subscription.user == user.id) & Subscription.channel.in_(channel_ids) & included())
    )
    UserVideoRef.insert_from(
        refs, [UserVideoRef.user, UserVideoRef.video, UserVideoRef.created_at]
    ).on_conflict_ignore().execute()


def subscription_of(user: User, channel_id: int) -> Subscription:
    """Return the user's subscription to a channel.

    Raises:
        NotFound: the user does not subscribe to it (or it does not exist).
    """
    subscription = Subscription.get_or_none(
        (Subscription.user == user) & (Subscription.channel == channel_id)
    )
    if subscription is None:
        raise NotFound(f"channel {channel_id} not found")
    return subscription


def set_mode(user: User, channel_id: int, mode: str) -> Subscription:
    """Change how a user's subscription tracks a channel."""
    _check_mode(mode)
    subscription = subscription_of(user, channel_id)
    subscription.mode = mode
    subscription.save(only=[Subscription.mode])
    return subscription


def set_include(user: User, channel_id: int, include: str | list[str]) -> Subscription:
    """Change which kinds a user's subscription takes, from the next poll on.

    Raises:
        UnknownKind: `include` names no kind, or one that is not includable.
        NotFound: the user does not subscribe to the channel.
    """
    wanted = kinds.include_to_json(include)
    subscription = subscription_of(user, channel_id)
    subscription.include = wanted
    subscription.save(only=[Subscription.include])
    return subscription


def unsubscribe(user: User, channel_id: int) -> None:
    """End a subscription; a channel nobody subscribes to stops being polled."""
    with db.atomic():
        subscription = subscription_of(user, channel_id)
        subscription.delete_instance()
        settle_polling([channel_id], time.time())


def pause(user: User, channel_id: int, now: float) -> Subscription:
    """Pause a user's subscription; the channel is not polled once all its subscribers paused it.

    Pausing again changes nothing.

    Raises:
        NotFound: the user does not subscribe to it.
    """
    with db.atomic():
        subscription = subscription_of(user, channel_id)
        if subscription.paused_at is None:
            subscription.paused_at = now
            subscription.save(only=[Subscription.paused_at])
            settle_polling([channel_id], now)
    return subscription


def resume(user: User, channel_id: int, now: float) -> Subscription:
    """Resume a paused subscription; a channel that was not polled is due at once.

    Raises:
        NotFound: the user does not subscribe to it.
    """
    with db.atomic():
        subscription = subscription_of(user, channel_id)
        if subscription.paused_at is not None:
            subscription.paused_at = None
            subscription.save(only=[Subscription.paused_at])
            settle_polling([channel_id], now)
    return subscription


def settle_polling(channel_ids: list[int], now: float) -> None:
    """Stop or restart polling channels whose subscriptions changed (4 queries).

    A channel nobody subscribes to, or whose every subscriber paused it, gets
    no next poll (`next_poll_at` NULL: the claim's index skips it); a paused
    one also gets `paused_at`. One with an active subscriber again is due now.
    """
    if not channel_ids:
        return
    active = Subscription.select(Subscription.channel).where(
        Subscription.channel.in_(channel_ids) & Subscription.paused_at.is_null()
    )
    paused = Subscription.select(Subscription.channel).where(
        Subscription.channel.in_(channel_ids) & Subscription.paused_at.is_null(False)
    )
    mine = Channel.id.in_(channel_ids)
    Channel.update(next_poll_at=now, paused_at=None).where(
        mine & Channel.id.in_(active) & Channel.next_poll_at.is_null()
    ).execute()
    Channel.update(next_poll_at=None, paused_at=now).where(
        mine & Channel.id.not_in(active) & Channel.id.in_(paused) & Channel.paused_at.is_null()
    ).execute()
    orphans = mine & Channel.id.not_in(active) & Channel.id.not_in(paused)
    Channel.update(next_poll_at=None, paused_at=None).where(orphans).execute()
    websub_store.wake(Channel.select(Channel.id).where(orphans))  # the tick unsubscribes push


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise TubepollerError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")


def subscribe_many(
    user: User, specs: list[sources.ChannelSpec], mode: str, now: float, settings: Settings
) -> set[str]:
    """Subscribe `user` to many resolved channels in one transaction; a fixed number of queries.

    The bulk form of `subscribe` for imports: channels not stored yet are
    created due at once, unsubscribed ones are woken, existing
    subscriptions keep their mode, and each new subscriber gets references
    to what is cataloged already.

    Returns:
        The feed URLs of the subscriptions this made (the others existed).
    """
    _check_mode(mode)
    if not specs:
        return set()
    urls = [spec.feed_url for spec in specs]
    host_of = {s.feed_url: channel_host(s.kind, s.external_id, s.feed_url, settings) for s in specs}
    host_ids = host_store.ensure_hosts(host_of.values(), now)
    with db.atomic():
        Channel.insert_many(
            [
                {
                    "kind": spec.kind,
                    "external_id": spec.external_id,
                    "feed_url": spec.feed_url,
                    "created_at": now,
                    "next_poll_at": now,
                    "host": host_ids[host_of[spec.feed_url]],
                }
                for spec in specs
            ]
        ).on_conflict_ignore().execute()
        found: Any = (
            Channel.select(Channel.feed_url, Channel.id).where(Channel.feed_url.in_(urls)).tuples()
        )
        ids: dict[str, int] = dict(found)
        created = [
            channel_id
            for (channel_id,) in Subscription.insert_many(
                [
                    {"user": user, "channel": ids[url], "mode": mode, "created_at": now}
                    for url in urls
                ]
            )
            .on_conflict_ignore()
            .returning(Subscription.channel)
            .tuples()
            .execute()
        ]
        # Unsubscribed or paused channels a new subscription wakes.
        settle_polling(created, now)
        if created:
            _reference_existing(user, created, now)
    by_id = {channel_id: url for url, channel_id in ids.items()}
    return {by_id[channel_id] for channel_id in created}
