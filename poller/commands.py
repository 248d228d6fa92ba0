"""The `tubepoller` commands: each reads its arguments, calls the stages, prints.

`poller.cli` parses the command line and turns expected errors into one
line; the handlers here do the work of one command each.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import config
from .config import redact
from .errors import TubepollerError


def _print(rows: list[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if not rows:
        print("(none)")
        return
    cells = [[("" if r.get(c) is None else str(r[c])) for c in columns] for r in rows]
    widths = [min(60, max(len(c), *(len(row[i]) for row in cells))) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v[:w].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _open(settings: config.Settings) -> None:
    """Open the database a command works on; never create one (only `db init` does)."""
    from .database import connect, open_database, sqlite_file

    path = sqlite_file(settings.database_url)
    if path is not None and not os.path.exists(path):
        raise TubepollerError(
            f"no database at {redact(settings.database_url)}: run `tubepoller db init` first"
        )
    open_database(settings.database_url)
    connect()


def _user(args: argparse.Namespace) -> Any:
    """Return the user named by --user, or None without one."""
    from .listings import user_named

    return user_named(args.user) if args.user else None


def cmd_db_init(args: argparse.Namespace, settings: config.Settings) -> int:
    from .database import init_schema, open_database
    from .host_links import backfill
    from .models import db

    open_database(settings.database_url)
    added = init_schema()
    with db.connection_context():
        linked = backfill(settings, time.time())
    print(
        f"schema ready at {redact(settings.database_url)}"
        + (f" (added {', '.join(added)})" if added else "")
        + (f" (linked {linked} channels to their hosts)" if linked else "")
    )
    return 0


def cmd_user_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from .subscriptions import add_user

    _open(settings)
    user, token = add_user(args.name, time.time(), admin=args.admin)
    print(f"user {user.name} created{' (admin)' if user.is_admin else ''}; API token (shown once):")
    print(token)
    return 0


def cmd_channel_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from .kinds import include_from_json
    from .listings import only_user
    from .subscriptions import subscribe

    _open(settings)
    user = _user(args) or only_user()
    result = subscribe(user, args.url, args.mode, time.time(), settings, args.include)
    state = "subscribed" if result.created else "already subscribed"
    changed = f" (was {result.previous_mode})" if result.mode_changed else ""
    include = ""
    if args.include is not None:
        include = ", include " + ",".join(include_from_json(result.subscription.include))
    print(
        f"{user.name} {state} to channel {result.channel.id} ({result.channel.feed_url}), "
        f"mode {result.subscription.mode}{changed}{include}"
    )
    if not result.created:
        return 0
    if settings.embedded_broker:
        print("first poll at the next tick of `tubepoller up`")
        return 0
    from dramatiq.errors import BrokerError

    from .queues import Queues

    try:
        sent = Queues.of_actors(settings).poll([result.channel.id], time.time())
    except BrokerError as exc:
        raise TubepollerError(
            f"subscription to channel {result.channel.id} saved, but its first poll was not"
            f" queued ({broker_failure(settings, exc)}); the next tick polls it"
        ) from None
    print("first poll queued" if sent else "first poll at the next tick")
    return 0


# pika nests the cause in layers of reprs; these pull out the words a user needs.
_BROKER_REASONS = (
    re.compile(r"(?:NOT_ALLOWED|ACCESS_REFUSED) - ([^'\"]+)"),
    re.compile(r"Error\(\d+, '([^']+)'\)"),
)


def broker_failure(settings: config.Settings, exc: Exception) -> str:
    """Describe a failed send in one line, naming the broker (password redacted)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for pattern in _BROKER_REASONS:
        found = pattern.search(reason)
        if found:
            reason = found.group(1).strip().lower()
            break
    return redact(f"RabbitMQ at {settings.broker_url} unreachable: {reason}")


def cmd_channel_remove(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import only_user
    from .subscriptions import unsubscribe

    _open(settings)
    user = _user(args) or only_user()
    unsubscribe(user, args.channel_id)
    print(f"{user.name} unsubscribed from channel {args.channel_id}")
    return 0


def cmd_channel_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import channels

    _open(settings)
    user = _user(args)
    _print(
        channels(user),
        [
            "id",
            "kind",
            "title",
            "mode" if user else "subscribers",
            "video_count",
            "last_polled_at",
            "next_poll_at",
            "interval_s",
            "consecutive_failures",
            "paused",
            "last_error",
            "warning",
            "catalog_error",
        ],
        args.json,
    )
    return 0


def cmd_video_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import videos

    _open(settings)
    page = videos(_user(args), channel_id=args.channel, status=args.status, limit=args.limit)
    _print(
        page.items,
        [
            "id",
            "channel_id",
            "external_id",
            "published_at",
            "media_type",
            "download_status",
            "title",
        ],
        args.json,
    )
    return 0


def cmd_event_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import events

    _open(settings)
    rows = events(_user(args), newest_first=True, limit=args.limit)
    if not args.json:  # the table shows the video's title beside its id
        rows = [{**row, "title": (row["video"] or {}).get("title")} for row in rows]
    _print(rows, ["id", "user", "kind", "channel_id", "video_id", "created_at", "title"], args.json)
    return 0


def cmd_poll(args: argparse.Namespace, settings: config.Settings) -> int:
    if args.all:
        return _poll_all(args, settings)
    if args.channel_id is None:
        raise TubepollerError("name a channel id, or use --all")
    from . import pipeline, reads
    from .outcomes import log_poll

    _open(settings)
    if reads.load(args.channel_id) is None:
        raise TubepollerError(f"no channel {args.channel_id}")
    result = pipeline.poll_channel(args.channel_id, time.time(), settings)
    print(f"channel {args.channel_id}: {result.describe()}")
    if result.outcome == pipeline.POLL_FAILED:
        log_poll(logging.getLogger("poller"), result)
    if result.download_ids:
        print(_start_downloads(settings, result.download_ids))
    if result.notice_ids:
        from .commands_notify import send_notices

        print(send_notices(settings, result.notice_ids))
    return 1 if result.outcome == pipeline.POLL_FAILED else 0


def _poll_all(args: argparse.Namespace, settings: config.Settings) -> int:
    from .embedded import poll_all

    results = poll_all(settings, due_only=args.due_only)
    if results is None:
        print("queued a poll of " + ("every due channel" if args.due_only else "every channel"))
        return 0
    from .pipeline import POLL_FAILED

    failed = sum(result.outcome == POLL_FAILED for result in results)
    wanted = sum(len(result.download_ids) for result in results)
    print(f"polled {len(results)} channels, {failed} failed")
    if wanted:
        print(f"{wanted} downloads marked pending; `tubepoller up` starts them at its next tick")
    return 1 if failed else 0


def _start_downloads(settings: config.Settings, video_ids: list[int]) -> str:
    """Send the downloads a poll made wanted, or leave them to the next tick; say which."""
    from dramatiq.errors import BrokerError

    from .downloads import hand_to_sweep

    pending = f"{len(video_ids)} downloads marked pending"
    if settings.embedded_broker:
        # This process cannot reach `up`'s workers: the next tick's sweep sends them.
        hand_to_sweep(video_ids, time.time())
        return f"{pending}; `tubepoller up` starts them at its next tick"
    from .queues import Queues

    queues = Queues.of_actors(settings)
    try:
        for video_id in video_ids:
            queues.download(video_id)
    except BrokerError as exc:
        logging.getLogger("poller").warning("%s", broker_failure(settings, exc))
        hand_to_sweep(video_ids, time.time())
        return f"{pending}; the next tick sends them"
    return f"{len(video_ids)} downloads queued"


def cmd_host_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import hosts

    _open(settings)
    columns = ["name", "state", "paused_until", "pause_level", "pause_reason", "degraded"]
    _print(hosts(time.time()), columns, args.json)
    return 0


def cmd_import(args: argparse.Namespace, settings: config.Settings) -> int:
    from .imports import Imported, import_subscriptions, read_subscriptions
    from .listings import only_user

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise TubepollerError(f"cannot read {args.file}: {exc.strerror}") from None
    listed = read_subscriptions(data)
    _open(settings)
    user = _user(args) or only_user()
    print(f"importing {len(listed)} subscriptions for {user.name}", file=sys.stderr)

    def progress(done: Imported) -> None:
        print(f"  {done.seen}/{len(listed)}: {done.summary()}", file=sys.stderr)

    done = import_subscriptions(
        user, listed, time.time(), settings, mode=args.mode, progress=progress
    )
    for url, reason in done.refused:
        print(f"refused {url}: {reason}")
    print(done.summary() + ("; first polls at the next tick" if done.added else ""))
    return 0


def cmd_export(args: argparse.Namespace, settings: config.Settings) -> int:
    from .imports import export_opml

    _open(settings)
    sys.stdout.write(export_opml(_user(args)))
    return 0


def cmd_up(args: argparse.Namespace, settings: config.Settings) -> int:
    from .embedded import run

    return run(settings, api=not args.no_api, tick_every=args.tick_every)
