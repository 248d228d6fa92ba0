"""/api/events: after an id, oldest first, only the caller's; ?wait long-polls."""

from __future__ import annotations

import threading
import time

import pytest

from poller.models import CATALOGED, NEW_EPISODE, Event, User, Video, db
from tests.api.support import Caller, Feed


def add_event(user: User, kind: str, channel_id: int, video: Video | None = None) -> int:
    event = Event.create(
        user=user,
        kind=kind,
        channel=channel_id,
        video=video,
        dedup_key=f"{kind}:{user.id}:{time.monotonic_ns()}",
        payload="{}" if video else '{"videos": 3}',
        created_at=time.time(),
    )
    return event.id


@pytest.fixture
def channel(alice: Caller, feed: Feed) -> int:
    return alice.subscribe(feed.url)


def test_events_come_after_the_given_id_oldest_first(
    alice: Caller, bob: Caller, channel: int
) -> None:
    video = Video.create(
        channel=channel,
        external_id="ep9",
        title="Episode nine",
        url="http://127.0.0.1/ep9",
        discovered_at=time.time(),
        updated_at=time.time(),
    )
    first = add_event(alice.user, CATALOGED, channel)
    add_event(bob.user, CATALOGED, channel)
    second = add_event(alice.user, NEW_EPISODE, channel, video)

    everything = alice.get("/api/events").json
    later = alice.get("/api/events", params={"after": first}).json

    assert [e["id"] for e in everything["items"]] == [first, second]
    assert everything["last_id"] == second
    assert [e["id"] for e in later["items"]] == [second]
    episode = later["items"][0]
    assert episode["kind"] == "new_episode" and episode["video_id"] == video.id
    assert episode["user"] == "alice"
    assert episode["video"]["title"] == "Episode nine"
    assert episode["video"]["url"] == "http://127.0.0.1/ep9"
    assert everything["items"][0]["video"] is None
    assert everything["items"][0]["payload"] == {"videos": 3}
    assert alice.get("/api/events", params={"after": second}).json == {
        "items": [],
        "last_id": second,
    }


def test_a_page_holds_at_most_100_events(alice: Caller, channel: int) -> None:
    ids = [add_event(alice.user, CATALOGED, channel) for _ in range(105)]

    page = alice.get("/api/events").json
    rest = alice.get("/api/events", params={"after": page["last_id"]}).json

    assert [e["id"] for e in page["items"]] == ids[:100]
    assert [e["id"] for e in rest["items"]] == ids[100:]


def test_wait_returns_as_soon_as_an_event_arrives(alice: Caller, channel: int) -> None:
    def later() -> None:
        time.sleep(0.4)
        with db.connection_context():
            add_event(alice.user, CATALOGED, channel)

    writer = threading.Thread(target=later)
    started = time.monotonic()
    writer.start()
    result = alice.get("/api/events", params={"wait": 10})
    writer.join()

    assert result.status_code == 200 and len(result.json["items"]) == 1
    assert 0.3 < time.monotonic() - started < 3


def test_wait_ends_with_an_empty_list(alice: Caller, bob: Caller, channel: int) -> None:
    add_event(bob.user, CATALOGED, channel)  # someone else's news wakes nobody
    started = time.monotonic()

    result = alice.get("/api/events", params={"wait": 0.5})

    assert (result.status_code, result.json) == (200, {"items": [], "last_id": 0})
    assert 0.5 <= time.monotonic() - started < 2


@pytest.mark.parametrize("query", ["after=-1", "after=x", "wait=61", "wait=-1", "wait=nan"])
def test_bad_after_or_wait_is_a_400(alice: Caller, query: str) -> None:
    assert alice.get("/api/events", query_string=query).status_code == 400
