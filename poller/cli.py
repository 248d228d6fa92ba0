"""The `tubepoller` command: set up, subscribe, inspect, poll, run.

This module parses the command line, sets up logging and turns expected
errors into one line; `poller.commands` and `poller.manage` hold what each
command does.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from dramatiq.errors import BrokerError
from peewee import DatabaseError, InterfaceError

from . import commands, commands_notify, config, manage
from .config import redact
from .errors import TubepollerError
from .models import DOWNLOAD_STATES, FUTURE_ONLY, MODES

JSON_HELP = "print JSON (the API's shape) instead of a table"
LIMIT_HELP = "show at most this many (default 100)"
CHANNEL_HELP = "the channel's id (see `channel list`)"
USER_HELP = "whose subscription (default: the only user)"


def _seconds(raw: str) -> float:
    value = float(raw)
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be 1-3600 seconds, got {raw}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tubepoller", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db_cmd = subcommands.add_parser("db", help="database schema").add_subparsers(
        dest="sub", required=True
    )
    db_cmd.add_parser("init", help="create or upgrade the schema (idempotent)").set_defaults(
        handler=commands.cmd_db_init
    )

    user = subcommands.add_parser("user", help="API users").add_subparsers(
        dest="sub", required=True
    )
    add = user.add_parser("add", help="create a user and print its API token once")
    add.add_argument("name", help="the user's name: letters, digits, . _ -")
    add.add_argument("--admin", action="store_true", help="may act on every channel")
    add.set_defaults(handler=commands.cmd_user_add)
    listing = user.add_parser("list", help="every user, whether admin, and their subscriptions")
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    listing.set_defaults(handler=manage.cmd_user_list)
    remove = user.add_parser("remove", help="delete a user, their subscriptions and events")
    remove.add_argument("name", help="the user's name (see `user list`)")
    remove.set_defaults(handler=manage.cmd_user_remove)
    token = user.add_parser("token", help="replace a user's API token")
    token.add_argument("name", help="the user's name")
    token.add_argument(
        "--rotate", action="store_true", help="print a new token; the old one stops working"
    )
    token.set_defaults(handler=manage.cmd_user_token)

    channel = subcommands.add_parser("channel", help="channels and subscriptions").add_subparsers(
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
    add.add_argument(
        "--include",
        metavar="KINDS",
        help="the kinds to get, comma-separated from video,short,live (default video,live); "
        "the others are cataloged, not announced or downloaded",
    )
    add.set_defaults(handler=commands.cmd_channel_add)
    remove = channel.add_parser("remove", help="unsubscribe a user from a channel")
    remove.add_argument("channel_id", type=int, help="the channel's id (see `channel list`)")
    remove.add_argument("--user", help="who unsubscribes (default: the only user)")
    remove.set_defaults(handler=commands.cmd_channel_remove)
    mode = channel.add_parser("mode", help="change how a user's subscription tracks a channel")
    mode.add_argument("channel_id", type=int, help=CHANNEL_HELP)
    mode.add_argument(
        "mode", choices=MODES, help="future_only downloads new uploads; catalog_only never"
    )
    mode.add_argument("--user", help=USER_HELP)
    mode.set_defaults(handler=manage.cmd_channel_mode)
    for name, handler, what in (
        ("pause", manage.cmd_channel_pause, "pause a user's subscription: polls stop "
         "once every subscriber paused the channel"),
        ("resume", manage.cmd_channel_resume, "resume a paused subscription"),
    ):  # fmt: skip
        pausing = channel.add_parser(name, help=what)
        pausing.add_argument("channel_id", type=int, help=CHANNEL_HELP)
        pausing.add_argument("--user", help=USER_HELP)
        pausing.set_defaults(handler=handler)
    show = channel.add_parser("show", help="everything known about a channel, with its last polls")
    show.add_argument("channel_id", type=int, help=CHANNEL_HELP)
    show.add_argument("--json", action="store_true", help=JSON_HELP)
    show.set_defaults(handler=manage.cmd_channel_show)
    listing = channel.add_parser("list", help="every channel (or a user's) with its poll state")
    listing.add_argument("--user", help="only this user's channels, with their mode")
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    listing.set_defaults(handler=commands.cmd_channel_list)

    video = subcommands.add_parser("video", help="cataloged videos").add_subparsers(
        dest="sub", required=True
    )
    listing = video.add_parser("list", help="videos, newest first (undated last)")
    listing.add_argument("--channel", type=int, help="only this channel")
    listing.add_argument("--user", help="only this user's feed (or channel, with --channel)")
    listing.add_argument("--status", choices=DOWNLOAD_STATES, help="only this download state")
    listing.add_argument("--limit", type=int, default=100, help=LIMIT_HELP)
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    listing.set_defaults(handler=commands.cmd_video_list)
    download = video.add_parser("download", help="download a cataloged video now")
    download.add_argument("video_id", type=int, help="the video's id (see `video list`)")
    download.add_argument("--user", help="only a video of this user's feed")
    download.set_defaults(handler=manage.cmd_video_download)

    event = subcommands.add_parser("event", help="events").add_subparsers(dest="sub", required=True)
    listing = event.add_parser("list", help="events, newest first")
    listing.add_argument("--user", help="only this user's events")
    listing.add_argument("--limit", type=int, default=100, help=LIMIT_HELP)
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    listing.set_defaults(handler=commands.cmd_event_list)

    poll = subcommands.add_parser("poll", help="poll one channel inline, or enqueue polls of all")
    poll.add_argument("channel_id", nargs="?", type=int, help="the channel to poll now")
    poll.add_argument(
        "--all",
        action="store_true",
        help="every channel, through the claim: queued with RabbitMQ, polled here without",
    )
    poll.add_argument("--due-only", action="store_true", help="with --all: only channels due now")
    poll.set_defaults(handler=commands.cmd_poll)

    host = subcommands.add_parser("host", help="the hosts polled: pauses, outages").add_subparsers(
        dest="sub", required=True
    )
    listing = host.add_parser("list", help="every host with its pause and degraded flag")
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    listing.set_defaults(handler=commands.cmd_host_list)

    _notify_parser(subcommands)

    imports = subcommands.add_parser(
        "import", help="subscribe a user to every channel of an OPML file or subscriptions.csv"
    )
    imports.add_argument("file", help="an OPML file, YouTube's subscriptions.csv, or - for stdin")
    imports.add_argument("--user", help="who subscribes (default: the only user)")
    imports.add_argument(
        "--mode", choices=MODES, default=FUTURE_ONLY, help="tracking mode of every new subscription"
    )
    imports.set_defaults(handler=commands.cmd_import)
    export = subcommands.add_parser("export", help="print the subscriptions as OPML")
    export.add_argument("--user", help="only this user's subscriptions (default: every channel)")
    export.set_defaults(handler=commands.cmd_export)

    up = subcommands.add_parser("up", help="run scheduler, workers and API in one process")
    up.add_argument("--no-api", action="store_true", help="do not serve the HTTP API")
    up.add_argument(
        "--tick-every",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="seconds between ticks (claim due channels, send lost downloads); default 60",
    )
    up.set_defaults(handler=commands.cmd_up)
    return parser


def _notify_parser(subcommands: argparse._SubParsersAction) -> None:
    from .notices import EVENTS

    notify = subcommands.add_parser(
        "notify", help="notification targets (Apprise URLs)"
    ).add_subparsers(dest="sub", required=True)
    add = notify.add_parser("add", help="tell a user about events at an Apprise URL")
    add.add_argument("url", help="an Apprise URL: ntfy://topic, json://host/path, mailto://…")
    add.add_argument("--user", help="whose target (default: the only user)")
    add.add_argument("--events", required=True, help=f"comma-separated, of: {', '.join(EVENTS)}")
    add.set_defaults(handler=commands_notify.cmd_notify_add)
    listing = notify.add_parser("list", help="targets (secrets masked) and their last delivery")
    listing.add_argument("--user", help="only this user's targets")
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    listing.set_defaults(handler=commands_notify.cmd_notify_list)
    remove = notify.add_parser("remove", help="remove a target and its deliveries")
    remove.add_argument("target_id", type=int, help="the target's id (see `notify list`)")
    remove.add_argument("--user", help="whose target (default: the only user)")
    remove.set_defaults(handler=commands_notify.cmd_notify_remove)
    test = notify.add_parser("test", help="send a test message to a target now; print how it went")
    test.add_argument("target_id", type=int, help="the target's id (see `notify list`)")
    test.set_defaults(handler=commands_notify.cmd_notify_test)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; expected errors print one line and exit non-zero."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, service=args.handler is commands.cmd_up)
    settings: config.Settings | None = None
    try:
        settings = config.get()
        code = args.handler(args, settings)
        sys.stdout.flush()  # inside the try: a closed pipe fails here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as the Python docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except TubepollerError as exc:
        return _error(str(exc))
    except BrokerError as exc:
        return _error(commands.broker_failure(settings, exc) if settings else str(exc))
    except (DatabaseError, InterfaceError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "no such table" in reason or "does not exist" in reason
        return _error(
            f"database: {reason} (at {_database(settings)})"
            + ("; run `tubepoller db init` first" if hint else "")
        )
    except KeyboardInterrupt:
        return 130


def _error(message: str) -> int:
    print(f"tubepoller: error: {redact(message)}", file=sys.stderr)
    return 2


def _database(settings: config.Settings | None) -> str:
    return redact(settings.database_url) if settings else "?"


class RedactingFormatter(logging.Formatter):
    """Format log records with every URL's password replaced by ***."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the formatted record, passwords redacted."""
        return redact(super().format(record))


def setup_logging(verbose: bool, *, service: bool) -> None:
    """Log to stderr with passwords redacted, and without pika's chatter.

    pika logs every connection at INFO; `up` keeps its warnings and errors.
    A one-shot command reports a refused send itself, in one line, so there
    pika's connection errors and the enqueue warning would only repeat it.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    logging.getLogger("pika").setLevel(logging.WARNING if service else logging.CRITICAL)
    if not service:
        logging.getLogger("poller.enqueue").setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
