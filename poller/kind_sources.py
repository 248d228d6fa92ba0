"""Ask YouTube what new videos are: the uploads playlist feeds, then yt-dlp.

The I/O half of classifying (the rules are in `poller.kinds`): a poll that
finds new ids reads the channel's uploads playlist feeds (UULF, UUSH, UULV,
UUMO) through the same `fetch` and address guard as its own feed, and asks
yt-dlp about the few ids none of them shows (a premiere, a scheduled stream,
a video the playlists have not caught up with). An unchanged poll calls
neither: it costs its one request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from . import host_signals, host_turn, kinds, sources, ytdlp_pool
from .config import Settings
from .errors import PermanentError, PollError
from .scan import scan_ids
from .sources import youtube

log = logging.getLogger(__name__)


def playlist_ids(channel_id: str, prefix: str, settings: Settings) -> list[str] | None:
    """Return the ids the channel's uploads playlist `prefix` shows, newest first.

    Returns None when the playlist does not exist (404: some channels have
    no UULF), and an empty list when it could not be read (a timeout, a
    body that is no feed): its ids stay unplaced and go to yt-dlp.

    Raises:
        PollError: a bot check or a 429, which pauses the host.
    """
    url = youtube.feed_url(kinds.uploads_playlist(channel_id, prefix), settings.youtube_url)
    try:
        response = sources.fetch_page(url, settings)
    except PollError as exc:
        if str(exc).startswith("HTTP 404 "):
            return None
        # A bot check or a 429 is the host's state, not the playlist's: it
        # ends the poll, which pauses the host as its own feed would.
        if host_signals.classify(error=str(exc)) in host_signals.PAUSING:
            raise
        log.warning("playlist %s%s unread: %s", prefix, channel_id[2:], exc)
        return []
    if host_signals.classify(200, response.body[:4096]) == host_signals.BOT_CHECK:
        raise PermanentError(
            "bot check: Sign in to confirm you're not a bot (an HTML page, not the "
            f"{prefix} playlist feed)"
        )
    return scan_ids(response.body) or []


def metadata(external_ids: Sequence[str], settings: Settings) -> dict[str, Mapping[str, Any]]:
    """Return yt-dlp's metadata of each id it could read (missing ids failed).

    One yt-dlp run per id, each on its own slot of the host's budget
    (`host_turn.turn`). ``--ignore-no-formats-error`` makes an upcoming
    premiere give its metadata (live_status, release_timestamp) instead of
    failing with "Premieres in …".
    """
    found: dict[str, Mapping[str, Any]] = {}
    for vid in external_ids:
        url = youtube.watch_url(vid, settings.youtube_url)
        try:
            with host_turn.turn(url, settings) as host_args:
                out = ytdlp_pool.run(
                    [
                        *host_args,
                        "--skip-download",
                        "--ignore-no-formats-error",
                        "--no-playlist",
                        "--dump-single-json",
                        "--",
                        url,
                    ],
                    timeout=settings.ytdlp_timeout,
                    label=f"metadata {vid}",
                    workers=settings.ytdlp_workers,
                )
            info = json.loads(out)
        except (PollError, ValueError) as exc:
            # The id stays unplaced and is filed as a video: what the feed said.
            log.warning("metadata of %s unread: %s", vid, exc)
            continue
        if isinstance(info, dict):
            found[vid] = info
    return found
