"""create_app wires the resources to the collaborators it is given: no broker, no database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import falcon.testing
import pytest

from api.app import Services, create_app
from poller.config import Settings
from poller.errors import NotFound
from poller.listings import VideoPage

ROOT = Path(__file__).resolve().parents[2]
ALICE = SimpleNamespace(id=1, name="alice", is_admin=False)


class FakeListings:
    """The read layer's answers, and what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    def user_for_token(self, token: str) -> Any:
        return ALICE if token == "good" else None

    def user_by_id(self, user_id: int) -> Any:  # the status page's session
        return ALICE if user_id == ALICE.id else None

    def channels(self, user: Any, *, everything: bool = False) -> list[dict[str, Any]]:
        return [{"id": 7, "owner": user.name}]

    def channel(self, user: Any, channel_id: int) -> dict[str, Any]:
        if channel_id != 7:
            raise NotFound(f"channel {channel_id} not found")
        return {"id": 7}

    def videos(self, user: Any, **query: Any) -> VideoPage:
        self.asked.append(("videos", query))
        return VideoPage([{"id": 5}], (None, 5))

    def poll_marks(self, user: Any, channel_id: int) -> tuple[None, None]:
        return None, None

    def user_video(self, user: Any, video_id: int) -> dict[str, Any]:
        return {"id": video_id}


class FakeQueues:
    def __init__(self) -> None:
        self.polls: list[Any] = []
        self.downloads: list[int] = []

    def poll(self, channel_ids: Any, now: float) -> int:
        self.polls.append((channel_ids, now))
        return 1

    def download(self, video_id: int) -> None:
        self.downloads.append(video_id)


def fake_services() -> Services:
    return Services(
        settings=Settings(),
        listings=FakeListings(),
        subscriptions=SimpleNamespace(),
        downloads=SimpleNamespace(request=lambda video_id, now: True),
        queues=FakeQueues(),
        database=SimpleNamespace(connect=lambda: None, release=lambda: None),
        health=lambda: {"database": "ok", "broker": "ok (fake)"},
        clock=lambda: 1000.0,
    )


@pytest.fixture
def services() -> Services:
    return fake_services()


@pytest.fixture
def client(services: Services) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(Settings(), services))


def get(client: falcon.testing.TestClient, path: str, **kwargs: Any) -> falcon.testing.Result:
    return client.simulate_get(path, headers={"Authorization": "Bearer good"}, **kwargs)


def post(client: falcon.testing.TestClient, path: str, **kwargs: Any) -> falcon.testing.Result:
    return client.simulate_post(path, headers={"Authorization": "Bearer good"}, **kwargs)


def test_reads_come_from_the_listings_it_is_given(client) -> None:
    assert client.simulate_get("/api/health").json == {"database": "ok", "broker": "ok (fake)"}
    assert get(client, "/api/channels").json == {"items": [{"id": 7, "owner": "alice"}]}
    assert get(client, "/api/channels/8").status_code == 404
    bad = client.simulate_get("/api/channels", headers={"Authorization": "Bearer bad"})
    assert bad.status_code == 401


def test_a_cursor_carries_the_listing_s_position_there_and_back(client, services) -> None:
    first = get(client, "/api/videos", params={"limit": 1, "status": "pending"})
    assert first.json["items"] == [{"id": 5}] and first.json["next"]

    get(client, "/api/channels/7/videos", params={"cursor": first.json["next"]})

    assert services.listings.asked == [
        ("videos", {"channel_id": None, "status": "pending", "limit": 1, "after": None}),
        ("videos", {"channel_id": 7, "status": None, "limit": 50, "after": (None, 5)}),
    ]


def test_polls_and_downloads_go_to_the_queues_it_is_given(client, services) -> None:
    assert post(client, "/api/channels/7/poll").json == {"queued": True}
    assert post(client, "/api/videos/5/download").status_code == 202

    assert services.queues.polls == [([7], 1000.0)]
    assert services.queues.downloads == [5]


BUILD_WITHOUT_BROKER = """
import dramatiq.broker, sys
import falcon.testing
from api.app import create_app
from poller.config import Settings
from poller.models import db
from tests.api.test_app import fake_services
client = falcon.testing.TestClient(create_app(Settings(), fake_services()))
assert client.simulate_get("/api/health").status_code == 200
assert dramatiq.broker.global_broker is None, dramatiq.broker.global_broker
assert "poller.actors" not in sys.modules
assert db.obj is None
print("built")
"""


def test_the_app_is_built_without_a_broker_or_a_database() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env["TUBEPOLLER_BROKER_URL"] = "amqp://guest:guest@127.0.0.1:1/"
    result = subprocess.run(
        [sys.executable, "-c", BUILD_WITHOUT_BROKER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "built" in result.stdout, result.stderr
