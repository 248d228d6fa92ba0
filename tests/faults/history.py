"""The history checker: every upload the fake host made, and what the database made of it.

The feed server's channels know every upload they ever published; the
database knows the videos, references, events and downloads the workers
wrote. After a fault, each upload must have yielded exactly one video row,
exactly one reference per subscriber, at most one `new_episode` per
subscriber and at most one download (a GET of its media on the feed server).
Anything short is *lost*, anything over is *duplicated*; the checker counts
both, prints them, and a fault test asserts they are zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from peewee import fn

from poller.models import NEW_EPISODE, Event, Subscription, UserVideoRef, Video
from tests.support.feedserver import FeedServer


@dataclass
class History:
    """What a run made of the uploads: counts by kind, and a few examples of each."""

    uploads: int = 0
    lost: Counter[str] = field(default_factory=Counter)  # kind → how many missing
    duplicated: Counter[str] = field(default_factory=Counter)  # kind → how many extra
    examples: list[str] = field(default_factory=list)

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    @property
    def duplicated_total(self) -> int:
        return sum(self.duplicated.values())

    def summary(self) -> str:
        """One line: the totals, then the kinds that are not zero."""
        kinds = ", ".join(
            [f"lost {k}={n}" for k, n in sorted(self.lost.items()) if n]
            + [f"duplicated {k}={n}" for k, n in sorted(self.duplicated.items()) if n]
        )
        line = f"history: {self.uploads} uploads, lost={self.lost_total} "
        line += f"duplicated={self.duplicated_total}"
        return f"{line} ({kinds})" if kinds else line

    def _note(self, what: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(what)

    def assert_clean(self) -> None:
        """Fail with the counts and examples unless nothing was lost or duplicated."""
        assert not (self.lost_total or self.duplicated_total), (
            self.summary() + "\n" + "\n".join(self.examples)
        )


def check_history(feeds: FeedServer, channel_sources: Mapping[int, int]) -> History:
    """Compare the feed server's uploads with the database, and print the counts.

    Args:
        feeds: the fake host; its channels' `uploads` are the truth.
        channel_sources: channel id in the database → feed server channel number.
    """
    history = History()
    ids = list(channel_sources)
    subscribers: dict[int, set[int]] = {}
    for sub in Subscription.select(Subscription.channel, Subscription.user).where(
        Subscription.channel.in_(ids)
    ):
        subscribers.setdefault(sub.channel_id, set()).add(sub.user_id)
    rows: dict[tuple[int, str], list[int]] = {}
    for video in Video.select(Video.id, Video.channel, Video.external_id).where(
        Video.channel.in_(ids)
    ):
        rows.setdefault((video.channel_id, video.external_id), []).append(video.id)
    refs = Counter(
        (r.user_id, r.video_id)
        for r in UserVideoRef.select(UserVideoRef.user, UserVideoRef.video)
        .join(Video)
        .where(Video.channel.in_(ids))
    )
    episodes = Counter(
        (e.user_id, e.video_id)
        for e in Event.select(Event.user, Event.video).where(
            (Event.kind == NEW_EPISODE) & Event.channel.in_(ids)
        )
    )
    uploaded: set[tuple[int, str]] = set()
    for channel_id, number in channel_sources.items():
        for vid, _title, _published in feeds.channel(number).uploads:
            uploaded.add((channel_id, vid))
            history.uploads += 1
            _check_upload(history, feeds, channel_id, vid, rows, refs, episodes, subscribers)
    for key, video_ids in rows.items():  # rows of no upload: written twice under another id
        if key not in uploaded:
            history.duplicated["videos"] += len(video_ids)
            history._note(f"video {key} matches no upload")
    duplicate_keys = (
        Event.select(Event.dedup_key, fn.COUNT(Event.id).alias("n"))
        .where(Event.channel.in_(ids))
        .group_by(Event.dedup_key)
        .having(fn.COUNT(Event.id) > 1)
    )
    for row in duplicate_keys:
        history.duplicated["events"] += row.n - 1
        history._note(f"event {row.dedup_key} written {row.n} times")
    print(history.summary())
    return history


def _check_upload(
    history: History,
    feeds: FeedServer,
    channel_id: int,
    vid: str,
    rows: Mapping[tuple[int, str], list[int]],
    refs: Counter[tuple[int, int]],
    episodes: Counter[tuple[int, int]],
    subscribers: Mapping[int, set[int]],
) -> None:
    """Count what one upload lacks or has twice."""
    video_ids = rows.get((channel_id, vid), [])
    if not video_ids:
        history.lost["videos"] += 1
        history.lost["refs"] += len(subscribers.get(channel_id, ()))
        history._note(f"upload {vid} of channel {channel_id}: no video row")
        return
    if len(video_ids) > 1:
        history.duplicated["videos"] += len(video_ids) - 1
        history._note(f"upload {vid} of channel {channel_id}: {len(video_ids)} video rows")
    for user_id in subscribers.get(channel_id, ()):
        made = sum(refs[(user_id, v)] for v in video_ids)
        if made == 0:
            history.lost["refs"] += 1
            history._note(f"upload {vid}: no reference for user {user_id}")
        elif made > 1:
            history.duplicated["refs"] += made - 1
            history._note(f"upload {vid}: {made} references for user {user_id}")
        told = sum(episodes[(user_id, v)] for v in video_ids)
        if told > 1:
            history.duplicated["new_episode"] += told - 1
            history._note(f"upload {vid}: {told} new_episode events for user {user_id}")
    fetched = feeds.hits.get(f"/watch?v={vid}", 0)
    if fetched > 1:
        history.duplicated["downloads"] += fetched - 1
        history._note(f"upload {vid}: downloaded {fetched} times")
