"""Through gunicorn: a channel's poll history, pausing it, and the admin's user management."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.cli import cli_env, run
from tests.support.feedserver import FeedServer
from tests.support.gunicorn import serving


@dataclass
class Live:
    base: str
    env: dict[str, str]
    tokens: dict[str, str]

    def client(self, name: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"}
        return httpx.Client(base_url=f"{self.base}/api", headers=headers, timeout=10)


@pytest.fixture
def live(tmp_path: Path, feeds: FeedServer) -> Iterator[Live]:
    """gunicorn on a database `tubepoller` set up: root (admin), alice and bob."""
    env = cli_env(tmp_path / "data", feeds.base)
    run(env, "db", "init")
    tokens = {}
    for name, *flags in (("root", "--admin"), ("alice",), ("bob",)):
        tokens[name] = run(env, "user", "add", name, *flags).stdout.splitlines()[-1]
    with serving(env, tmp_path / "gunicorn.log") as (base, _):
        yield Live(base, env, tokens)


def test_a_channel_s_polls_are_its_subscribers_only(live: Live, feeds: FeedServer) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    alice, bob = live.client("alice"), live.client("bob")
    created = alice.post("/channels", json={"url": feeds.feed_url(source.number)})
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    run(live.env, "poll", str(channel_id))
    source.status = 503
    run(live.env, "poll", str(channel_id), check=False)

    polls = alice.get(f"/channels/{channel_id}/polls")

    assert polls.status_code == 200, polls.text
    items = polls.json()["items"]
    assert [(p["seq"], p["outcome"], p["http_status"]) for p in items] == [
        (2, "failed", 503),
        (1, "unchanged", 200),
    ]
    assert items[1]["backfill"] == 1 and "HTTP 503" in items[0]["error"]
    assert bob.get(f"/channels/{channel_id}/polls").status_code == 404
    assert alice.get("/channels/999/polls").status_code == 404


def test_patch_paused_stops_the_polls_until_resumed(live: Live, feeds: FeedServer) -> None:
    source = feeds.add_channel()
    alice = live.client("alice")
    # Subscribed by the command line, which leaves the first poll to the
    # tick: the API's subscribe would claim the channel for its first poll.
    run(live.env, "channel", "add", feeds.feed_url(source.number), "--user", "alice")
    (channel_id,) = [c["id"] for c in alice.get("/channels").json()["items"]]

    paused = alice.patch(f"/channels/{channel_id}", json={"paused": True})

    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert body["subscription_paused"] and body["polls_paused"] and body["next_poll_at"] is None
    assert "polled 0 channels" in run(live.env, "poll", "--all").stdout
    metrics = httpx.get(f"{live.base}/metrics", timeout=10).text.splitlines()
    assert 'tubepoller_channels{health="paused"} 1.0' in metrics
    assert 'tubepoller_channels{health="ok"} 0.0' in metrics
    assert alice.patch(f"/channels/{channel_id}", json={}).status_code == 422
    resumed = alice.patch(
        f"/channels/{channel_id}", json={"paused": False, "mode": "catalog_only"}
    ).json()
    assert not resumed["polls_paused"] and resumed["mode"] == "catalog_only"
    assert "polled 1 channels" in run(live.env, "poll", "--all", "--due-only").stdout


def test_only_an_admin_manages_users_and_a_rotated_token_stops_at_once(live: Live) -> None:
    root, alice = live.client("root"), live.client("alice")
    for method, path in (
        ("GET", "/users"),
        ("POST", "/users"),
        ("DELETE", "/users/bob"),
        ("POST", "/users/bob/token"),
    ):
        refused = alice.request(method, path, json={"name": "x"})
        assert refused.status_code == 403, (method, path, refused.text)
        assert "only an admin may manage users" in refused.json()["description"]

    names = [u["name"] for u in root.get("/users").json()["items"]]
    assert names == ["alice", "bob", "root"]
    created = root.post("/users", json={"name": "carol"})
    assert created.status_code == 201 and len(created.json()["token"]) >= 40
    assert root.post("/users", json={"name": "carol"}).status_code == 409
    assert root.post("/users", json={"name": "bad name"}).status_code == 422

    rotated = root.post("/users/alice/token")
    assert rotated.status_code == 200 and rotated.json()["name"] == "alice"
    assert alice.get("/channels").status_code == 401  # the old token, at once
    live.tokens["alice"] = rotated.json()["token"]
    assert live.client("alice").get("/channels").status_code == 200

    new_cli_token = run(live.env, "user", "token", "alice", "--rotate").stdout.splitlines()[-1]
    assert live.client("alice").get("/channels").status_code == 401
    live.tokens["alice"] = new_cli_token
    assert live.client("alice").get("/channels").status_code == 200

    assert root.delete("/users/carol").status_code == 204
    assert root.delete("/users/carol").status_code == 404
    assert root.post("/users/carol/token").status_code == 404
    assert "carol" not in run(live.env, "user", "list").stdout


def test_two_thousand_subscriptions_import_over_http(live: Live) -> None:
    from tests.test_cli_import import UC, opml

    urls = [f"https://www.youtube.com/channel/{UC.format(n)}" for n in range(2000)]
    body = opml([*urls, "ftp://127.0.0.2/feed.xml"]).encode()
    started = time.monotonic()
    done = live.client("alice").post(
        "/import", content=body, headers={"Content-Type": "text/x-opml"}
    )
    took = time.monotonic() - started
    print(f"POST /api/import of 2,001 entries answered in {took:.1f} s")

    assert done.status_code == 200, done.text
    assert (done.json()["added"], done.json()["already"]) == (2000, 0)
    assert [r["url"] for r in done.json()["refused"]] == ["ftp://127.0.0.2/feed.xml"]
    assert len(live.client("alice").get("/channels").json()["items"]) == 2000
    assert live.client("bob").get("/channels").json()["items"] == []
