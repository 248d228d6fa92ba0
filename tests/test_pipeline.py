"""One poll, inline, against the local feed server: the stages end to end."""

from __future__ import annotations

import json
import time

import pytest

from poller import pipeline
from poller.models import CATALOGED, NEW_EPISODE, PENDING, Channel, Event, Subscription, Video
from poller.sources import youtube
from tests.support.cluster import feed_path
from tests.support.feedserver import FeedServer
from tests.support.querycount import count_queries
from tests.support.rows import counts, make_user, subscribe
from tests.support.synthetic import podcast_feed

pytestmark = pytest.mark.usefixtures("conn")


def youtube_url(channel_id: str) -> str:
    # What a user pastes; TUBEPOLLER_YOUTUBE_URL sends the poll to the feed server.
    return f"https://www.youtube.com/channel/{channel_id}"


def poll(channel: Channel, settings, at: float | None = None) -> pipeline.PollResult:
    return pipeline.poll_channel(channel.id, at or time.time(), settings)


def test_first_poll_catalogs_everything_quietly(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    for _ in range(20):  # more than the feed's window of 15: the rest comes from yt-dlp
        source.upload(published=time.time() - 86400)
    channel = subscribe(make_user(), youtube_url(source.id))

    result = poll(channel, settings)

    assert result.outcome == pipeline.UNCHANGED
    assert result.backfill_count == 20 and result.new_video_ids == []
    assert counts() == {"videos": 20, "refs": 20, "events": 1}
    assert Event.get().kind == CATALOGED
    assert Video.select().where(Video.download_status == PENDING).count() == 0
    assert Channel.get_by_id(channel.id).cataloged_at is not None
    assert Channel.get_by_id(channel.id).catalog_error is None


def test_a_new_upload_is_announced_referenced_and_queued_for_download(
    feeds: FeedServer, settings
) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    alice, bob = make_user("alice"), make_user("bob")
    channel = subscribe(alice, youtube_url(source.id))
    subscribe(bob, youtube_url(source.id), mode="catalog_only")
    poll(channel, settings)

    new_id = source.upload()
    result = poll(channel, settings)

    assert result.outcome == pipeline.NEW
    video = Video.get(Video.external_id == new_id)
    assert result.new_video_ids == [video.id]
    assert result.download_ids == [video.id]  # alice is future_only
    assert video.download_status == PENDING
    events = Event.select().where(Event.kind == NEW_EPISODE)
    assert sorted(e.user.name for e in events) == ["alice", "bob"]
    assert counts()["refs"] == 4  # 2 videos x 2 subscribers


def test_an_unchanged_feed_is_not_parsed(feeds: FeedServer, settings, monkeypatch) -> None:
    feeds.validators = False  # no 304: the scan has to find nothing new
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))
    poll(channel, settings)

    def no_parse(body: bytes):
        raise AssertionError("feedparser ran on an unchanged feed")

    monkeypatch.setattr(pipeline, "parse_feed", no_parse)
    assert poll(channel, settings).outcome == pipeline.UNCHANGED


def test_a_304_reschedules_without_parsing_or_writing(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))
    poll(channel, settings)
    before = counts()

    with count_queries() as statements:
        result = poll(channel, settings)

    assert result.outcome == pipeline.NOT_MODIFIED
    assert counts() == before
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 2  # the reschedule and the poll's history row
    assert len(statements) == 3  # and loading the channel


def test_an_unchanged_poll_costs_at_most_four_queries(feeds: FeedServer, settings) -> None:
    feeds.validators = False
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))
    poll(channel, settings)

    with count_queries() as statements:
        assert poll(channel, settings).outcome == pipeline.UNCHANGED
    assert len(statements) <= 4, statements  # one of them the history's INSERT


@pytest.mark.parametrize("new_videos, subscribers", [(1, 1), (10, 15), (100, 15)])
def test_storing_new_videos_costs_the_same_queries_at_any_scale(
    feeds: FeedServer, settings, new_videos: int, subscribers: int
) -> None:
    url = feeds.set_raw("pod", podcast_feed(1))  # a plain feed lists every episode: no window
    users = [make_user(f"user{i}") for i in range(subscribers)]
    channel = subscribe(users[0], url)
    for user in users[1:]:
        subscribe(user, url)
    poll(channel, settings)
    feeds.set_raw("pod", podcast_feed(1 + new_videos))

    with count_queries() as statements:
        result = poll(channel, settings)

    assert len(result.new_video_ids) == new_videos
    assert counts()["refs"] == (new_videos + 1) * subscribers
    assert Event.select().where(Event.kind == NEW_EPISODE).count() == new_videos * subscribers
    # channel, known ids, insert videos, refs, events, notification deliveries,
    # subscriptions, mark downloads, reschedule, history
    assert len(statements) == 10, [s[:60] for s in statements]


def test_a_redelivered_poll_changes_nothing(feeds: FeedServer, settings) -> None:
    feeds.validators = False
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))
    poll(channel, settings)
    source.upload()
    now = time.time()
    assert poll(channel, settings, at=now).outcome == pipeline.NEW
    after_first = counts()

    assert poll(channel, settings, at=now).outcome == pipeline.UNCHANGED
    assert counts() == after_first


def test_a_gap_listing_announces_the_uploads_the_window_missed(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    channel = subscribe(make_user(), youtube_url(source.id))
    poll(channel, settings)

    for _ in range(20):  # 20 uploads since the last poll: 5 fell out of the window
        source.upload()
    result = poll(channel, settings)

    # The 5 the feed no longer shows sit above the known upload in the
    # listing: new uploads too, announced and downloaded, not back catalog.
    assert len(result.new_video_ids) == 20
    assert result.backfill_count == 0
    assert Video.select().count() == 21
    assert len(result.download_ids) == 20


def test_a_failing_catalog_listing_does_not_block_the_feed(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))
    feeds.routes["/raw/never"] = lambda handler: None
    original = youtube.catalog_url
    try:
        youtube.catalog_url = lambda cid, base: f"{base}/raw/missing"  # 404 for yt-dlp
        result = poll(channel, settings)
    finally:
        youtube.catalog_url = original

    assert result.outcome == pipeline.UNCHANGED and result.backfill_count == 1
    stored = Channel.get_by_id(channel.id)
    assert stored.cataloged_at is None and "404" in stored.catalog_error  # listed again next poll
    assert poll(channel, settings).outcome in (pipeline.UNCHANGED, pipeline.NOT_MODIFIED)
    assert Channel.get_by_id(channel.id).cataloged_at is not None


@pytest.mark.parametrize(
    "status, transient", [(404, False), (410, False), (500, True), (503, True)]
)
def test_a_failure_is_recorded_and_backs_the_channel_off(
    feeds: FeedServer, settings, status: int, transient: bool
) -> None:
    source = feeds.add_channel()
    source.status = status
    channel = subscribe(make_user(), youtube_url(source.id))
    now = time.time()

    result = pipeline.poll_channel(channel.id, now, settings, rng=lambda: 0.5)

    assert result.outcome == pipeline.POLL_FAILED and result.transient is transient
    stored = Channel.get_by_id(channel.id)
    assert stored.consecutive_failures == 1
    assert str(status) in stored.last_error
    assert stored.next_poll_at == pytest.approx(now + settings.min_interval)
    assert stored.claimed_until == 0

    source.status = 200
    source.upload()
    assert pipeline.poll_channel(channel.id, now + 1, settings).outcome != pipeline.POLL_FAILED
    assert Channel.get_by_id(channel.id).consecutive_failures == 0


def test_a_redelivered_poll_that_was_served_fetches_nothing(feeds: FeedServer, settings) -> None:
    # The worker finished the poll and died before acknowledging its message.
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))
    sent_at = time.time()
    assert poll(channel, settings).outcome != pipeline.POLL_FAILED
    path = feed_path(source.id)
    fetched = feeds.hits.get(path, 0)

    again = pipeline.poll_channel(
        channel.id, time.time(), settings, redelivered=True, sent_at=sent_at
    )

    assert (again.outcome, again.error) == (pipeline.SKIPPED, "already polled")
    assert feeds.hits.get(path, 0) == fetched
    assert Channel.get_by_id(channel.id).poll_attempts == 0
    # A message sent after that poll is a new request, served as any other.
    later = pipeline.poll_channel(
        channel.id, time.time(), settings, redelivered=True, sent_at=time.time()
    )
    assert later.outcome != pipeline.SKIPPED and feeds.hits.get(path, 0) == fetched + 1


def test_only_a_redelivered_poll_is_counted_before_it_fetches(
    feeds: FeedServer, settings, monkeypatch
) -> None:
    source = feeds.add_channel()
    channel = subscribe(make_user(), youtube_url(source.id))
    seen = []

    def dies(*args, **kwargs):
        seen.append(Channel.get_by_id(channel.id).poll_attempts)
        raise SystemExit("the worker dies mid-fetch")

    monkeypatch.setattr(pipeline, "fetch", dies)
    for redelivered in (False, True, True):
        with pytest.raises(SystemExit):
            pipeline.poll_channel(channel.id, time.time(), settings, redelivered=redelivered)
    assert seen == [0, 1, 2]


def test_a_poll_that_keeps_killing_its_worker_is_given_up(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    channel = subscribe(make_user(), youtube_url(source.id))
    # The first delivery and two redeliveries died mid-poll: two were counted.
    attempts = pipeline.MAX_KILLED_POLLS - 1
    Channel.update(poll_attempts=attempts).where(Channel.id == channel.id).execute()

    result = pipeline.poll_channel(channel.id, time.time(), settings, redelivered=True)

    assert result.outcome == pipeline.POLL_FAILED and not result.transient
    stored = Channel.get_by_id(channel.id)
    assert "stopped its worker" in stored.last_error
    assert stored.poll_attempts == 0 and stored.next_poll_at > time.time()
    assert feeds.hits == {}  # it did not fetch again


def test_an_unsubscribed_channel_is_skipped(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    channel = subscribe(make_user(), youtube_url(source.id))
    Subscription.delete().execute()
    Channel.update(next_poll_at=None).execute()
    assert poll(channel, settings).outcome == pipeline.SKIPPED
    assert feeds.hits == {}


def test_a_database_error_is_retried_quietly_and_not_counted_as_a_crash(
    feeds: FeedServer, settings, monkeypatch
) -> None:
    from peewee import OperationalError

    from poller import store

    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(store, "save_new", locked)
    result = pipeline.poll_channel(channel.id, time.time(), settings, redelivered=True)

    # Nothing could be recorded: the message is retried, without a traceback.
    assert (result.outcome, result.transient) == (pipeline.POLL_FAILED, True)
    assert result.error == "database: database is locked"
    stored = Channel.get_by_id(channel.id)
    assert stored.poll_attempts == 0 and stored.last_error is None


def test_known_ids_answers_for_feeds_of_any_size(feeds: FeedServer, settings) -> None:
    from poller import reads

    url = feeds.set_raw("big", podcast_feed(3))
    channel = subscribe(make_user(), url)
    poll(channel, settings)
    for size in (1, 17, 1500, 40_000):  # padded, padded, plain, chunked past SQLite's limit
        asked = ["ep-0", "ep-2", *(f"other-{i}" for i in range(size))]
        assert reads.known_ids(channel.id, asked) == {"ep-0", "ep-2"}


def test_an_unexpected_exception_is_recorded_and_backs_the_channel_off(
    feeds: FeedServer, settings, monkeypatch, caplog
) -> None:
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), youtube_url(source.id))

    def broken(body: bytes):
        raise ValueError("year 10000 is out of range\nsecond line")

    monkeypatch.setattr(pipeline, "scan_ids", broken)
    now = time.time()
    with caplog.at_level("ERROR", logger="poller.pipeline"):
        result = pipeline.poll_channel(channel.id, now, settings, rng=lambda: 0.5)

    assert result.outcome == pipeline.POLL_FAILED and not result.transient
    assert result.error == "internal error: ValueError: year 10000 is out of range second line"
    stored = Channel.get_by_id(channel.id)
    assert stored.last_error == result.error and stored.last_outcome == "failed"
    assert stored.consecutive_failures == 1 and stored.claimed_until == 0
    assert stored.next_poll_at == pytest.approx(now + settings.min_interval)
    [record] = [r for r in caplog.records if r.exc_info]
    assert "Traceback" not in record.getMessage() and record.exc_info[0] is ValueError

    monkeypatch.undo()
    assert pipeline.poll_channel(channel.id, now + 1, settings).outcome != pipeline.POLL_FAILED
    assert Channel.get_by_id(channel.id).consecutive_failures == 0


def test_a_channel_on_a_host_is_polled_as_often_as_its_share_of_the_budget(
    feeds: FeedServer, settings
) -> None:
    from poller import cadence, host_store
    from poller.models import Host

    source = feeds.add_channel()
    for days in range(10, 0, -1):  # a daily channel
        source.upload(published=time.time() - days * 86400)
    channel = subscribe(make_user(), youtube_url(source.id))
    poll(channel, settings)
    # A tick counts the host: as many channels, all weighing as this one, as
    # give each one poll every 2,000 s within half of the host's rate.
    weight = Channel.get_by_id(channel.id).poll_weight
    assert weight is not None and 0 < weight <= 1
    host_store.refresh_shares()
    assert Host.get().polled_channels == 1 and Host.get().weight_sum == pytest.approx(weight)
    many = round(2000 * settings.host_rate * 0.5)
    now = time.time()
    history = json.loads(Channel.get_by_id(channel.id).upload_history)
    alike = cadence.weight(history, now, 2000)  # its weight at the host's fair interval
    Host.update(polled_channels=many, weight_sum=many * alike).execute()

    with count_queries() as statements:
        result = poll(channel, settings, at=now)

    assert result.outcome in (pipeline.UNCHANGED, pipeline.NOT_MODIFIED)
    polled = Channel.get_by_id(channel.id)
    assert polled.interval_s == pytest.approx(2000, rel=0.01)  # the old rule: a day / 24
    assert polled.poll_weight == pytest.approx(alike)
    assert polled.next_poll_at == pytest.approx(now + 2000, rel=1e-6)
    assert len(statements) <= 4  # the host's count came with the channel
