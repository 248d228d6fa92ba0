"""Notification deliveries on a database: queued with the events, sent, retried, listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from poller import downloads, listings, notify, notify_store, ytdlp
from poller.arrivals import Arrival
from poller.config import Settings
from poller.decide import NewVideo, Reschedule, StoreEntries
from poller.errors import NotFound
from poller.kinds import VIDEO
from poller.models import Channel, Delivery, Event, Video
from poller.parse import Entry
from poller.recheck import Rechecked
from poller.store import save_new
from tests.support.cluster import BOTH_DATABASES
from tests.support.querycount import count_queries
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.usefixtures("conn"), BOTH_DATABASES]
NOW = 1_800_000_000.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        media_dir=tmp_path, allow_private_networks=True, notify_timeout=5, notify_backoff=1
    )


def _plan(*ids: str) -> StoreEntries:
    entries = [
        Entry(i, f"Title {i}", f"https://www.youtube.com/watch?v={i}", NOW - 60) for i in ids
    ]
    return StoreEntries(
        videos=[
            NewVideo(e, Arrival(e.external_id, VIDEO, None, False, True, None)) for e in entries
        ],
        download_ids=frozenset(),
        rechecked=Rechecked(),
        upcoming_due_at=None,
        history=[NOW],
        reschedule=Reschedule(NOW + 300, 300, None, None),
        catalog_error=None,
        title="Cooking Daily",
    )


def _poll(channel: Channel, *ids: str) -> list[int]:
    return save_new(Channel.get_by_id(channel.id), NOW, _plan(*ids)).notice_ids


def test_a_new_episode_is_queued_once_per_target_that_wants_it(settings: Settings, hooks) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    channel = subscribe(alice, "https://www.youtube.com/channel/UC" + "a" * 22)
    subscribe(bob, channel.feed_url)
    wants = notify.add_target(alice, hooks.url("/a"), ["new_episode"], NOW, settings)
    notify.add_target(alice, hooks.url("/a-dl"), ["downloaded"], NOW, settings)
    bobs = notify.add_target(bob, hooks.url("/b"), ["new_episode", "downloaded"], NOW, settings)

    ids = _poll(channel, "v1", "v2")
    deliveries = list(Delivery.select().where(Delivery.id.in_(ids)))
    assert sorted((d.target_id, d.kind) for d in deliveries) == sorted(
        [(wants.id, "new_episode")] * 2 + [(bobs.id, "new_episode")] * 2
    )
    assert {d.status for d in deliveries} == {"pending"}
    assert _poll(channel, "v1", "v2") == []  # a redelivered poll queues nothing again


def test_queuing_costs_the_same_queries_whatever_the_number_of_targets(settings, hooks) -> None:
    def cost(users: int, videos: int) -> int:
        owner = make_user(f"u{users}x{videos}")
        channel = subscribe(owner, f"https://www.youtube.com/channel/UC{users:02d}{videos:020d}")
        for n in range(users):
            user = make_user(f"u{users}x{videos}n{n}")
            subscribe(user, channel.feed_url)
            notify.add_target(user, hooks.url(f"/{n}"), ["new_episode"], NOW, settings)
        with count_queries() as queries:
            _poll(channel, *(f"{users}-{videos}-{i}" for i in range(videos)))
        return len(queries)

    assert cost(1, 1) == cost(20, 15)


def test_a_delivery_is_sent_once_with_what_it_is_about(settings: Settings, hooks) -> None:
    alice = make_user()
    channel = subscribe(alice, "https://www.youtube.com/channel/UC" + "b" * 22)
    notify.add_target(alice, hooks.url("/hook"), ["new_episode"], NOW, settings)
    [delivery_id] = _poll(channel, "abc")

    assert notify.deliver(delivery_id, NOW + 1, settings, retrying=True).status == "sent"
    assert notify.deliver(delivery_id, NOW + 2, settings, retrying=True).status == "skipped"
    [got] = hooks.at("/hook")
    assert got.body["title"] == "New episode: Title abc"
    assert got.body["message"].splitlines() == [
        "Channel: Cooking Daily",
        "Video: Title abc",
        "URL: https://www.youtube.com/watch?v=abc",
        "Published: 2027-01-15T07:59:00Z",
    ]
    row = Delivery.get_by_id(delivery_id)
    assert (row.status, row.attempts, row.reason, row.sent_at) == ("sent", 1, None, NOW + 1)


def test_a_failing_target_is_retried_with_its_reason_then_given_up(settings, hooks) -> None:
    alice = make_user()
    channel = subscribe(alice, "https://www.youtube.com/channel/UC" + "c" * 22)
    notify.add_target(alice, hooks.url("/down"), ["new_episode"], NOW, settings)
    hooks.always_fail.add("/down")
    [delivery_id] = _poll(channel, "abc")

    first = notify.deliver(delivery_id, NOW, settings, retrying=True, retries=2, rng=lambda: 0)
    assert first.status == "pending" and first.retry_in_s == 4  # 1 s doubled twice
    assert "500" in first.reason
    row = Delivery.get_by_id(delivery_id)
    assert (row.status, row.attempts, row.claimed_until) == ("pending", 1, 0)
    assert row.reason.startswith("Failed to send JSON POST") and "error=500" in row.reason
    last = notify.deliver(delivery_id, NOW + 5, settings, retrying=False)
    assert last.status == "failed"
    assert Delivery.get_by_id(delivery_id).status == "failed"
    assert len(hooks.at("/down", status=500)) == 2


def test_a_webhook_on_loopback_is_given_up_when_private_networks_are_not_allowed(
    settings, hooks
) -> None:
    alice = make_user()
    channel = subscribe(alice, "https://www.youtube.com/channel/UC" + "d" * 22)
    notify.add_target(alice, hooks.url("/x"), ["new_episode"], NOW, settings)
    [delivery_id] = _poll(channel, "abc")
    guarded = Settings(allow_private_networks=False)
    outcome = notify.deliver(delivery_id, NOW, guarded, retrying=True)
    assert outcome.status == "failed" and "loopback" in (outcome.reason or "")
    assert hooks.received == []


def test_a_finished_download_is_an_event_and_a_delivery(settings, hooks, monkeypatch) -> None:
    alice = make_user()
    channel = subscribe(alice, "https://www.youtube.com/channel/UC" + "e" * 22)
    notify.add_target(alice, hooks.url("/dl"), ["downloaded", "download_failed"], NOW, settings)
    _poll(channel, "abc", "def")
    done, broken = Video.select().order_by(Video.id)
    path = str(settings.media_dir / "abc.mp4")
    monkeypatch.setattr(ytdlp, "download", lambda url, *a, **k: path)
    downloads.request(done.id, NOW)
    outcome = downloads.download_video(done.id, NOW, settings, retrying=False)
    [event] = Event.select().where(Event.kind == "downloaded")
    assert (event.user_id, event.video_id, json.loads(event.payload)) == (
        alice.id,
        done.id,
        {"path": path},
    )
    assert notify.deliver(outcome.notice_ids[0], NOW, settings, retrying=False).status == "sent"
    assert "File: " + path in hooks.at("/dl")[0].body["message"]

    def refuse(*args, **kwargs):
        from poller.errors import PermanentError

        raise PermanentError("HTTP 403 from the CDN")

    monkeypatch.setattr(ytdlp, "download", refuse)
    downloads.request(broken.id, NOW)
    failed = downloads.download_video(broken.id, NOW, settings, retrying=False)
    assert failed.status == "failed" and len(failed.notice_ids) == 1
    kinds = [e["kind"] for e in listings.events(alice)]
    assert kinds.count("downloaded") == 1 and kinds.count("download_failed") == 1
    assert listings.events(alice)[-1]["payload"] == {"error": "HTTP 403 from the CDN"}


def test_targets_are_listed_masked_with_their_last_deliveries_and_removed_by_owner_only(
    settings, hooks
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    channel = subscribe(alice, "https://www.youtube.com/channel/UC" + "f" * 22)
    url = hooks.url("/h").replace("json://", "json://me:pa55word@")
    target = notify.add_target(alice, url, ["new_episode"], NOW, settings)
    ids = _poll(channel, *(f"v{i}" for i in range(7)))
    for delivery_id in ids[:3]:
        notify.deliver(delivery_id, NOW, settings, retrying=False)

    [shown] = listings.notification_targets(alice)
    assert "pa55word" not in json.dumps(shown) and shown["url"].startswith("json://me:****@")
    assert shown["service"] == "JSON" and shown["events"] == ["new_episode"]
    assert [d["id"] for d in shown["deliveries"]] == sorted(ids, reverse=True)[:5]
    assert [d["status"] for d in shown["deliveries"]] == ["pending"] * 4 + ["sent"]
    assert listings.notification_targets(bob) == []

    with pytest.raises(NotFound):
        notify_store.remove_target(bob, target.id)
    notify_store.remove_target(alice, target.id)
    assert Delivery.select().count() == 0


def test_a_pending_delivery_whose_message_was_lost_is_resent_once(settings, hooks) -> None:
    alice = make_user()
    channel = subscribe(alice, "https://www.youtube.com/channel/UC" + "g" * 22)
    notify.add_target(alice, hooks.url("/s"), ["new_episode"], NOW, settings)
    lost, sent, held = _poll(channel, "a", "b", "c")
    notify.deliver(sent, NOW, settings, retrying=False)
    later = NOW + notify_store.RESEND_AFTER + 1
    assert notify_store.claim(held, later - 1, lease=60) is not None  # an attempt touches it

    assert notify_store.stuck(NOW + 60) == []  # a retry waits at most 5 minutes
    assert notify_store.stuck(later) == [lost]
    assert notify_store.stuck(later + 1) == []  # touched: sent once per sweep period
    notify_store.hand_to_sweep([lost], later + 2)
    assert notify_store.stuck(later + 3) == [lost]
