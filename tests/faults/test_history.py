"""The history checker sees what is lost and what is duplicated, not only clean runs."""

from __future__ import annotations

import time

import pytest

from poller import pipeline
from poller.models import NEW_EPISODE, Event, UserVideoRef, Video
from tests.faults.history import check_history
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("conn")]


def test_the_checker_counts_lost_and_duplicated_uploads(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    alice, bob = make_user("alice"), make_user("bob")
    channel = subscribe(alice, feeds.feed_url(source.number))
    subscribe(bob, feeds.feed_url(source.number))
    pipeline.poll_channel(channel.id, time.time(), settings)
    new = source.upload()
    pipeline.poll_channel(channel.id, time.time(), settings)
    sources = {channel.id: source.number}
    clean = check_history(feeds, sources)
    assert (clean.uploads, clean.lost_total, clean.duplicated_total) == (2, 0, 0)

    video = Video.get(Video.external_id == new)
    Event.create(
        user=alice, kind=NEW_EPISODE, channel=channel, video=video,
        dedup_key="told-twice", created_at=time.time(),
    )  # fmt: skip
    UserVideoRef.delete().where(
        UserVideoRef.user == bob.id, UserVideoRef.video == video.id
    ).execute()
    feeds.hits[f"/watch?v={new}"] = 2  # fetched twice
    lost_upload = source.upload()  # the host published it; nobody polled it
    history = check_history(feeds, sources)
    assert history.lost == {"videos": 1, "refs": 3}, history.examples
    assert history.duplicated == {"new_episode": 1, "downloads": 1}, history.examples
    assert lost_upload in "\n".join(history.examples)
    with pytest.raises(AssertionError, match="lost=4 duplicated=2"):
        history.assert_clean()
