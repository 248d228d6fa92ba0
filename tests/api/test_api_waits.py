"""Long-polls are capped per process and per user: 429 past the cap, nothing queued."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import falcon.testing
import pytest

from api.app import Services, create_app
from api.waiting import WaitSlots
from tests.api.support import Caller, Feed, queued


@pytest.fixture
def slots() -> WaitSlots:
    return WaitSlots(total=3, per_user=2)


@pytest.fixture
def client(settings, database_url: str, slots: WaitSlots) -> falcon.testing.TestClient:
    services = replace(Services.of_poller(settings), waits=slots)
    return falcon.testing.TestClient(create_app(settings, services))


def test_a_user_past_their_cap_gets_a_429_others_still_wait(
    alice: Caller, bob: Caller, slots: WaitSlots
) -> None:
    with slots.hold(alice.user.id), slots.hold(alice.user.id):
        refused = alice.get("/api/events", params={"wait": "1"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
        assert "2 waiting requests" in refused.json["description"]
        assert alice.get("/api/events").status_code == 200  # not waiting: served
        started = time.monotonic()
        assert bob.get("/api/events", params={"wait": "0.3"}).status_code == 200
        assert time.monotonic() - started >= 0.3  # bob did wait


def test_past_the_process_cap_everyone_gets_a_429(
    alice: Caller, bob: Caller, slots: WaitSlots
) -> None:
    with slots.hold(1000), slots.hold(1001), slots.hold(1002):
        for caller in (alice, bob):
            refused = caller.get("/api/events", params={"wait": "1"})
            assert refused.status_code == 429
            assert "3 waiting requests" in refused.json["description"]
        assert bob.get("/api/health").status_code in (200, 503)
    assert alice.get("/api/events", params={"wait": "0.1"}).status_code == 200  # freed


def test_a_refused_poll_wait_queues_nothing(
    alice: Caller, feed: Feed, broker, slots: WaitSlots
) -> None:
    channel = alice.subscribe(feed.url)
    broker.flush_all()
    with slots.hold(alice.user.id), slots.hold(alice.user.id):
        refused = alice.post(f"/api/channels/{channel}/poll", params={"wait": "1"})
    assert refused.status_code == 429
    assert queued(broker) == []


def test_slots_are_given_back_when_a_wait_ends_or_fails() -> None:
    slots = WaitSlots(total=2, per_user=1)
    with pytest.raises(RuntimeError), slots.hold(1):
        raise RuntimeError("the check failed")
    done = threading.Event()

    def hold() -> None:
        with slots.hold(2):
            done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    with slots.hold(1):  # 1's slot came back; 2 holds the other
        with pytest.raises(falcon.HTTPTooManyRequests):
            with slots.hold(3):
                pass
    done.set()
    holder.join()
    with slots.hold(3):
        pass


def test_the_cap_fits_the_worker_threads() -> None:
    slots = WaitSlots(total=12, per_user=3)
    slots.fit(8)
    assert slots.total == 4
    slots.fit(2)
    assert slots.total == 1
