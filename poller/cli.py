"""The `tubepoller` command: set up, subscribe, inspect, poll, run."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from peewee import DatabaseError, InterfaceError, OperationalError

from . import config
from .errors import TubepollerError
from .models import DOWNLOAD_STATES, MODES

Handler = Callable[[argparse.Namespace, config.Settings], int]


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
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v[:w].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _open(settings: config.Settings) -> None:
    from .database import connect, open_database

    open_database(settings.database_url)
    connect()


def _user(args: argparse.Namespace) -> Any:
    """Return the user named by --user, or None without one."""
    from .listings import user_named

    return user_named(args.user) if args.user else None


def cmd_db_init(args: argparse.Namespace, settings: config.Settings) -> int:
    from .database import init_schema, open_database

    open_database(settings.database_url)
    added = init_schema()
    print(
        f"schema ready at {settings.database_url}"
        + (f" (added {', '.join(added)})" if added else "")
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
    from .listings import only_user
    from .subscriptions import subscribe

    _open(settings)
    user = _user(args) or only_user()
    result = subscribe(user, args.url, args.mode, time.time(), settings)
    state = "subscribed" if result.created else "already subscribed"
    changed = f" (was {result.previous_mode})" if result.mode_changed else ""
    print(
        f"{user.name} {state} to channel {result.channel.id} ({result.channel.feed_url}), "
        f"mode {result.subscription.mode}{changed}"
    )
    if result.created and _enqueue_poll(settings, result.channel.id):
        print("first poll queued")
    elif result.created:
        print("first poll at the next tick of `tubepoller up`")
    return 0


def _enqueue_poll(settings: config.Settings, channel_id: int) -> bool:
    """Claim a channel and send its poll when a RabbitMQ broker is configured."""
    if settings.embedded_broker:
        return False
    from .queues import Queues

    return bool(Queues.of_actors(settings).poll([channel_id], time.time()))


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
            "last_error",
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
        ["id", "channel_id", "external_id", "published_at", "download_status", "title"],
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
        from .embedded import poll_all

        polled = poll_all(settings, due_only=args.due_only)
        if polled < 0:
            print("queued a poll of " + ("every due channel" if args.due_only else "every channel"))
        else:
            print(f"polled {polled} channels")
        return 0
    if args.channel_id is None:
        raise TubepollerError("name a channel id, or use --all")
    from . import pipeline

    _open(settings)
    result = pipeline.poll_channel(args.channel_id, time.time(), settings)
    print(f"channel {args.channel_id}: {result.describe()}")
    if result.download_ids:
        print(f"{len(result.download_ids)} downloads marked pending")
    return 1 if result.outcome == pipeline.POLL_FAILED else 0


def cmd_up(args: argparse.Namespace, settings: config.Settings) -> int:
    from .embedded import run

    return run(settings, api=not args.no_api)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tubepoller", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db_cmd = commands.add_parser("db", help="database schema").add_subparsers(
        dest="sub", required=True
    )
    db_cmd.add_parser("init", help="create or upgrade the schema (idempotent)").set_defaults(
        handler=cmd_db_init
    )

    user = commands.add_parser("user", help="API users").add_subparsers(dest="sub", required=True)
    add = user.add_parser("add", help="create a user and print its API token once")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may act on every channel")
    add.set_defaults(handler=cmd_user_add)

    channel = commands.add_parser("channel", help="channels and subscriptions").add_subparsers(
        dest="sub", required=True
    )
    add = channel.add_parser("add", help="subscribe a user to a YouTube channel or a feed")
    add.add_argument("url", help="https://www.youtube.com/channel/UC… or an RSS/Atom feed URL")
    add.add_argument("--user", help="who subscribes (default: the only user)")
    add.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="future_only (the default) downloads new uploads; catalog_only never downloads; "
        "given for a channel already subscribed, changes its mode",
    )
    add.set_defaults(handler=cmd_channel_add)
    remove = channel.add_parser("remove", help="unsubscribe a user from a channel")
    remove.add_argument("channel_id", type=int)
    remove.add_argument("--user", help="who unsubscribes (default: the only user)")
    remove.set_defaults(handler=cmd_channel_remove)
    listing = channel.add_parser("list", help="every channel (or a user's) with its poll state")
    listing.add_argument("--user", help="only this user's channels, with their mode")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_channel_list)

    video = commands.add_parser("video", help="cataloged videos").add_subparsers(
        dest="sub", required=True
    )
    listing = video.add_parser("list", help="videos, newest first (undated last)")
    listing.add_argument("--channel", type=int, help="only this channel")
    listing.add_argument("--user", help="only this user's feed (or channel, with --channel)")
    listing.add_argument("--status", choices=DOWNLOAD_STATES, help="only this download state")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_video_list)

    event = commands.add_parser("event", help="events").add_subparsers(dest="sub", required=True)
    listing = event.add_parser("list", help="events, newest first")
    listing.add_argument("--user", help="only this user's events")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_event_list)

    poll = commands.add_parser("poll", help="poll one channel inline, or enqueue polls of all")
    poll.add_argument("channel_id", nargs="?", type=int)
    poll.add_argument(
        "--all", action="store_true", help="enqueue every channel (through the claim)"
    )
    poll.add_argument("--due-only", action="store_true", help="with --all: only channels due now")
    poll.set_defaults(handler=cmd_poll)

    up = commands.add_parser("up", help="run scheduler, workers and API in one process")
    up.add_argument("--no-api", action="store_true", help="do not serve the HTTP API")
    up.set_defaults(handler=cmd_up)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; expected errors print one line and exit non-zero."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = config.get()
        return args.handler(args, settings)
    except TubepollerError as exc:
        print(f"tubepoller: error: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, InterfaceError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "no such table" in reason or "does not exist" in reason:
            reason += " (run `tubepoller db init` first)"
        print(f"tubepoller: error: database: {reason}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"tubepoller: error: database: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
