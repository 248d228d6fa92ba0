"""The `tubepoller` commands that manage: users and tokens, a channel's mode and pause, a download.

Like `poller.commands`, each handler reads its arguments, calls the read
layer or a writer, and prints; `poller.cli` turns expected errors into one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import config
from .commands import _open, _print, _start_downloads, _user
from .errors import TubepollerError

POLL_COLUMNS = ["seq", "polled_at", "outcome", "http_status", "duration_ms", "new_videos", "error"]


def cmd_user_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import users

    _open(settings)
    _print(users(), ["id", "name", "admin", "created_at", "subscriptions"], args.json)
    return 0


def cmd_user_remove(args: argparse.Namespace, settings: config.Settings) -> int:
    from .users import remove_user

    _open(settings)
    remove_user(args.name)
    print(f"user {args.name} removed, with their subscriptions and events")
    return 0


def cmd_user_token(args: argparse.Namespace, settings: config.Settings) -> int:
    from .users import rotate_token

    if not args.rotate:
        raise TubepollerError(
            "a token is stored only as its hash and cannot be shown again;"
            " `--rotate` makes a new one (the old one stops working)"
        )
    _open(settings)
    token = rotate_token(args.name)
    print(f"new API token of {args.name} (shown once; the old one no longer works):")
    print(token)
    return 0


def cmd_channel_mode(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import only_user
    from .subscriptions import set_mode

    _open(settings)
    user = _user(args) or only_user()
    set_mode(user, args.channel_id, args.mode)
    print(f"{user.name}'s subscription to channel {args.channel_id}: mode {args.mode}")
    return 0


def cmd_channel_pause(args: argparse.Namespace, settings: config.Settings) -> int:
    return _pause(args, settings, paused=True)


def cmd_channel_resume(args: argparse.Namespace, settings: config.Settings) -> int:
    return _pause(args, settings, paused=False)


def _pause(args: argparse.Namespace, settings: config.Settings, *, paused: bool) -> int:
    from .listings import channel, only_user
    from .subscriptions import pause, resume

    _open(settings)
    user = _user(args) or only_user()
    (pause if paused else resume)(user, args.channel_id, time.time())
    state = channel(user, args.channel_id)
    if state["polls_paused"]:
        polling = "not polled until a subscriber resumes it"
    elif paused:
        polling = "still polled for its other subscribers"
    else:
        polling = f"next poll {state['next_poll_at']}"
    print(
        f"{user.name}'s subscription to channel {args.channel_id}"
        f" {'paused' if paused else 'resumed'}; {polling}"
    )
    return 0


def cmd_channel_show(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import channel_detail

    _open(settings)
    detail = channel_detail(args.channel_id)
    if args.json:
        json.dump(detail, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _show(detail)
    return 0


def _show(detail: dict[str, Any]) -> None:
    """Print every scalar field, then the subscriptions and the last polls."""
    lists = {"subscriptions", "polls"}
    fields = {k: v for k, v in detail.items() if k not in lists}
    width = max(len(k) for k in fields)
    print(f"channel {detail['id']}: {detail['title'] or '(no title yet)'}")
    for key, value in fields.items():
        if key not in ("id", "title"):
            print(f"  {key.ljust(width)}  {'' if value is None else value}".rstrip())
    print(f"\nsubscriptions ({len(detail['subscriptions'])}):")
    _print(detail["subscriptions"], ["user", "mode", "subscribed_at", "paused"], False)
    print(f"\nlast polls, newest first ({len(detail['polls'])}):")
    _print(detail["polls"], POLL_COLUMNS, False)


def cmd_video_download(args: argparse.Namespace, settings: config.Settings) -> int:
    from .downloads import request
    from .listings import PENDING, user_video, video

    _open(settings)
    user = _user(args)
    shown = user_video(user, args.video_id) if user else video(args.video_id)
    if not request(args.video_id, time.time()):
        status = video(args.video_id)["download_status"]
        if status != PENDING:
            raise TubepollerError(f"video {args.video_id} is {status} already")
        print(f"video {args.video_id} is pending already: its download is queued")
        return 0
    print(f"video {args.video_id} ({shown['title']}): {_start_downloads(settings, [shown['id']])}")
    return 0
