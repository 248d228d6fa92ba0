"""/api/channels: subscribe, list, show, change mode, unsubscribe; bodies and isolation."""

from __future__ import annotations

import json
from io import BytesIO

import pytest
from dramatiq.errors import ConnectionClosed
from peewee import OperationalError

from poller import listings
from poller.models import Channel, Subscription
from tests.api.support import Caller, Feed, queued


def test_subscribing_creates_the_channel_and_queues_its_first_poll(
    alice: Caller, feed: Feed, broker
) -> None:
    result = alice.post("/api/channels", json={"url": feed.url})

    assert result.status_code == 201
    body = result.json
    assert result.headers["location"] == f"/api/channels/{body['id']}"
    assert body["url"] == feed.url and body["kind"] == "feed"
    assert body["mode"] == "future_only" and body["poll_queued"] is True
    assert body["video_count"] == 0 and body["last_polled_at"] is None
    assert queued(broker) == [(body["id"],)]


def test_subscribing_again_answers_200_and_queues_nothing(
    alice: Caller, feed: Feed, broker
) -> None:
    first = alice.post("/api/channels", json={"url": feed.url, "mode": "catalog_only"})
    again = alice.post("/api/channels", json={"url": feed.url, "mode": "catalog_only"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and again.json["poll_queued"] is False
    assert len(queued(broker)) == 1


def test_subscribing_again_with_another_mode_changes_it_and_says_so(
    alice: Caller, feed: Feed, broker
) -> None:
    first = alice.post("/api/channels", json={"url": feed.url, "mode": "catalog_only"})
    again = alice.post("/api/channels", json={"url": feed.url, "mode": "future_only"})
    plain = alice.post("/api/channels", json={"url": feed.url})  # no mode: keep it

    assert first.json["mode_changed"] is False
    assert again.status_code == 200
    assert (again.json["mode"], again.json["mode_changed"]) == ("future_only", True)
    assert (plain.json["mode"], plain.json["mode_changed"]) == ("future_only", False)
    assert Subscription.get().mode == "future_only"
    assert alice.get(f"/api/channels/{first.json['id']}").json["mode"] == "future_only"
    assert len(queued(broker)) == 1


def test_a_second_subscriber_shares_the_channel(
    alice: Caller, bob: Caller, feed: Feed, broker
) -> None:
    mine = alice.subscribe(feed.url)
    theirs = bob.subscribe(feed.url, mode="future_only")

    assert mine == theirs
    assert Channel.select().count() == 1
    assert len(queued(broker)) == 1  # the claim holds: one poll queued, not two


def test_a_subscription_stands_when_the_broker_is_down(
    alice: Caller, feed: Feed, broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poller import actors

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionClosed(OSError("connection refused"))

    monkeypatch.setattr(actors.poll_channel, "send", refuse)
    result = alice.post("/api/channels", json={"url": feed.url})

    assert result.status_code == 201 and result.json["poll_queued"] is False
    channel = Channel.get_by_id(result.json["id"])
    assert channel.claimed_until == 0  # released: the next tick claims it
    assert channel.next_poll_at is not None


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://example.com/feed.xml", "only http and https"),
        ("   ", "empty"),
        ("https://www.youtube.com/results?search_query=x", "not a YouTube URL we can follow"),
    ],
)
def test_an_unusable_url_is_a_400_that_says_why(alice: Caller, url: str, reason: str) -> None:
    result = alice.post("/api/channels", json={"url": url})

    assert result.status_code == 400
    assert result.json["title"] == "Unusable URL"
    assert reason in result.json["description"]


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"url": "http://[zz]/feed"}', "not a valid URL"),
        (b'{"url": "http://[::1:18931/feed"}', "not a valid URL"),
        (b'{"url": "http://127.0.0.1:99999/feed"}', "not a valid URL"),
        (b'{"url": "https://[zz]/watch?v=abc"}', "not a valid URL"),
        # JSON may spell a lone surrogate; it is no text a URL can be stored as.
        (b'{"url": "http://127.0.0.1/feed/\\ud800"}', "not valid text"),
        (b'{"url": "https://www.youtube.com/@\\ud800"}', "not valid text"),
        (b'{"url": "http://\\ud800.example/feed"}', "not valid text"),
    ],
)
def test_an_unparsable_url_is_a_400_not_a_500(alice: Caller, raw: bytes, reason: str) -> None:
    result = alice.post("/api/channels", body=raw, headers={"Content-Type": "application/json"})

    assert result.status_code == 400, result.text
    assert result.json["title"] == "Unusable URL"
    assert reason in result.json["description"]
    assert Channel.select().count() == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "http://127.0.0.1/f", "colour": "red"}, "colour"),
        ({"url": 42}, "url"),
        ({"url": ""}, "url"),
        ({"url": "http://127.0.0.1/" + "a" * 2048}, "url"),
        ({"url": "http://127.0.0.1/f", "mode": "everything"}, "mode"),
        ({"url": "http://127.0.0.1/f", "mode": None}, "mode"),
        ({"mode": "future_only"}, "url"),
        (["http://127.0.0.1/f"], "object"),
    ],
)
def test_a_body_that_does_not_fit_is_a_422_naming_the_field(
    alice: Caller, body: object, field: str
) -> None:
    result = alice.post("/api/channels", json=body)

    assert result.status_code == 422
    assert field in result.json["description"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"url": NaN}', b"\xff\xfe{", b"   "])
def test_malformed_json_is_a_400(alice: Caller, raw: bytes) -> None:
    result = alice.post("/api/channels", body=raw, headers={"Content-Type": "application/json"})

    assert result.status_code == 400
    assert set(result.json) >= {"title", "description"}


def test_a_body_that_is_not_json_is_a_415(alice: Caller) -> None:
    result = alice.post("/api/channels", body="url=x", headers={"Content-Type": "text/plain"})
    assert result.status_code == 415


def test_a_body_over_64_kib_is_a_413(alice: Caller) -> None:
    big = json.dumps({"url": "http://127.0.0.1/" + "a" * 70_000})
    result = alice.post("/api/channels", body=big, headers={"Content-Type": "application/json"})
    assert result.status_code == 413


def test_a_chunked_body_over_64_kib_is_a_413_too(alice: Caller) -> None:
    # No Content-Length, as gunicorn passes a chunked body: read past the cap, then stop.
    big = json.dumps({"url": "http://127.0.0.1/" + "a" * 70_000}).encode()
    result = alice.post(
        "/api/channels",
        headers={"Content-Type": "application/json"},
        extras={"wsgi.input": BytesIO(big), "wsgi.input_terminated": True},
    )
    assert result.status_code == 413


def test_a_chunked_body_under_the_cap_is_read(alice: Caller, feed: Feed) -> None:
    body = json.dumps({"url": feed.url}).encode()
    result = alice.post(
        "/api/channels",
        headers={"Content-Type": "application/json"},
        extras={"wsgi.input": BytesIO(body), "wsgi.input_terminated": True},
    )
    assert result.status_code == 201


def test_listing_shows_only_the_callers_channels_with_poll_state(
    alice: Caller, bob: Caller, feed: Feed, feeds
) -> None:
    other = Feed(feeds, "other")
    mine = alice.subscribe(feed.url)
    bob.subscribe(other.url)

    items = alice.get("/api/channels").json["items"]

    assert [c["id"] for c in items] == [mine]
    assert set(items[0]) >= {
        "last_polled_at",
        "next_poll_at",
        "interval_s",
        "consecutive_failures",
        "last_error",
        "video_count",
        "mode",
    }


def test_an_admin_lists_every_channel_with_scope_all(
    alice: Caller, bob: Caller, admin: Caller, feed: Feed, feeds
) -> None:
    first = alice.subscribe(feed.url)
    second = bob.subscribe(Feed(feeds, "other").url)
    bob.subscribe(feed.url)

    own = admin.get("/api/channels").json["items"]
    every = admin.get("/api/channels", params={"scope": "all"}).json["items"]

    assert own == []
    assert [(c["id"], c["subscribers"], c["mode"]) for c in every] == [
        (first, 2, None),
        (second, 1, None),
    ]


def test_scope_all_is_forbidden_to_others_and_unknown_scopes_are_400(alice: Caller) -> None:
    assert alice.get("/api/channels", params={"scope": "all"}).status_code == 403
    assert alice.get("/api/channels", params={"scope": "mine"}).status_code == 400


def test_one_channel_shows_its_poll_state(alice: Caller, feed: Feed) -> None:
    channel_id = alice.subscribe(feed.url)

    result = alice.get(f"/api/channels/{channel_id}")

    assert result.status_code == 200
    assert result.json["id"] == channel_id and result.json["mode"] == "catalog_only"


def test_patch_changes_the_callers_mode(alice: Caller, feed: Feed) -> None:
    channel_id = alice.subscribe(feed.url)

    result = alice.patch(f"/api/channels/{channel_id}", json={"mode": "future_only"})

    assert result.status_code == 200 and result.json["mode"] == "future_only"
    assert Subscription.get().mode == "future_only"
    bad = alice.patch(f"/api/channels/{channel_id}", json={"mode": "sometimes"})
    assert bad.status_code == 422 and "mode" in bad.json["description"]
    assert alice.patch(f"/api/channels/{channel_id}", json={}).status_code == 422


def test_delete_unsubscribes_and_the_last_one_out_stops_the_polls(
    alice: Caller, bob: Caller, feed: Feed
) -> None:
    channel_id = alice.subscribe(feed.url)
    bob.subscribe(feed.url)

    assert alice.delete(f"/api/channels/{channel_id}").status_code == 204
    assert alice.get(f"/api/channels/{channel_id}").status_code == 404
    assert Channel.get_by_id(channel_id).next_poll_at is not None  # bob still subscribes
    assert bob.delete(f"/api/channels/{channel_id}").status_code == 204
    assert Channel.get_by_id(channel_id).next_poll_at is None
    assert bob.delete(f"/api/channels/{channel_id}").status_code == 404


@pytest.mark.parametrize(
    "method, suffix, kwargs",
    [
        ("GET", "", {}),
        ("PATCH", "", {"json": {"mode": "future_only"}}),
        ("DELETE", "", {}),
        ("POST", "/poll", {}),
        ("POST", "/poll?wait=1", {}),
        ("GET", "/videos", {}),
    ],
)
def test_another_users_channel_is_a_404(
    alice: Caller, bob: Caller, feed: Feed, broker, method: str, suffix: str, kwargs: dict
) -> None:
    channel_id = alice.subscribe(feed.url)
    before = queued(broker)
    path, _, query = f"/api/channels/{channel_id}{suffix}".partition("?")

    result = bob.request(method, path, query_string=query, **kwargs)

    assert result.status_code == 404
    assert result.json["description"] == f"channel {channel_id} not found"
    assert Subscription.select().count() == 1 and Subscription.get().mode == "catalog_only"
    assert queued(broker) == before


@pytest.mark.parametrize(
    "path", ["/api/channels/0", "/api/channels/x", "/api/channels/1" + "0" * 30]
)
def test_an_id_that_cannot_exist_is_a_404(alice: Caller, path: str) -> None:
    result = alice.get(path)
    assert result.status_code == 404 and set(result.json) == {"title", "description"}


def test_an_unserved_method_is_a_405(alice: Caller) -> None:
    result = alice.request("PUT", "/api/channels", json={})
    assert result.status_code == 405
    assert "GET" in result.headers["allow"] and "POST" in result.headers["allow"]


def test_a_database_failure_is_a_503(alice: Caller, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(*args: object, **kwargs: object) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(listings, "channels", locked)
    result = alice.get("/api/channels")

    assert result.status_code == 503
    assert "database" in result.json["description"]
    assert result.headers["retry-after"] == "5"


def test_include_is_set_on_subscribe_shown_and_changed_by_patch(
    alice: Caller, feed: Feed, broker
) -> None:
    made = alice.post("/api/channels", json={"url": feed.url, "include": ["short", "video"]})

    assert made.status_code == 201 and made.json["include"] == ["video", "short"]
    channel_id = made.json["id"]
    assert json.loads(Subscription.get().include) == ["video", "short"]
    changed = alice.patch(f"/api/channels/{channel_id}", json={"include": ["live"]})
    assert changed.status_code == 200 and changed.json["include"] == ["live"]
    assert changed.json["mode"] == "future_only"  # untouched
    both = alice.patch(
        f"/api/channels/{channel_id}", json={"include": ["video"], "mode": "catalog_only"}
    )
    assert (both.json["include"], both.json["mode"]) == (["video"], "catalog_only")
    assert alice.get(f"/api/channels/{channel_id}").json["include"] == ["video"]


def test_a_new_subscription_includes_videos_and_lives_by_default(
    alice: Caller, feed: Feed, broker
) -> None:
    assert alice.post("/api/channels", json={"url": feed.url}).json["include"] == [
        "video",
        "live",
    ]


@pytest.mark.parametrize(
    "include, reason",
    [
        (["video", "reel"], "unknown kind 'reel'"),
        ([], "name at least one"),
        (["members_only"], "unknown kind 'members_only'"),
    ],
)
def test_an_unusable_include_is_a_400_that_says_why(
    alice: Caller, feed: Feed, broker, include: list[object], reason: str
) -> None:
    result = alice.post("/api/channels", json={"url": feed.url, "include": include})

    assert result.status_code == 400, result.json
    assert result.json["title"] == "Invalid include" and reason in result.json["description"]
    assert Subscription.select().count() == 0
    channel_id = alice.subscribe(feed.url)
    patched = alice.patch(f"/api/channels/{channel_id}", json={"include": include})
    assert patched.status_code == 400 and reason in patched.json["description"]
    assert json.loads(Subscription.get().include) == ["video", "live"]


def test_include_that_is_not_a_list_of_names_is_a_422(alice: Caller, feed: Feed) -> None:
    result = alice.post("/api/channels", json={"url": feed.url, "include": "video,short"})
    assert result.status_code == 422 and "include" in result.json["description"]
    result = alice.post("/api/channels", json={"url": feed.url, "include": [3]})
    assert result.status_code == 422 and "include[]: must be a string" in result.json["description"]
