"""The API under attack, on a real gunicorn: tokens, other users' channels, hostile bodies."""

from __future__ import annotations

import hmac
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import falcon.testing
import httpx
import pytest

from api.app import create_app
from poller import subscriptions
from poller.models import Channel, Subscription, Video
from tests.faults.conftest import LiveAPI

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.usefixtures("conn")]

BAD_AUTH = [None, "", "Bearer", "bearer  x", "Bearer x", "Basic YWxpY2U6cHc=", "Token abc",
            "Bearer " + "A" * 100_000]  # fmt: skip


def operations(live: LiveAPI) -> list[tuple[str, str, str]]:
    """Every (method, path, security) of the OpenAPI document the server serves, ids filled in.

    Security is "public" (the document says `security: []`), "session" (a form
    of the status page, signed in by cookie) or "bearer" (the default: a token).
    """
    document = httpx.get(
        f"{live.base}/api/openapi.json", headers=live.headers("alice"), timeout=10
    ).json()
    found = []
    for template, item in document["paths"].items():
        path = re.sub(r"\{\w+\}", "1", template)
        for method, operation in item.items():
            if method in ("get", "post", "patch", "delete", "put"):
                security = operation.get("security")
                kind = "public" if security == [] else "session" if security else "bearer"
                found.append((method.upper(), path, kind))
    return found


# What may answer without a token: the health check, the metrics, the API's
# documentation, and the WebSub callbacks (a hub has no token; it proves itself
# with the subscription's own callback token and secret).
# The status page: its sign-in form and what it shows before one.
PAGES = {"/", "/page.css", "/signin"}
PUBLIC = {"/api/health", "/metrics", "/api/openapi.json", "/api/docs", "/api/docs/1", "/websub/1"}


def test_only_health_metrics_and_docs_answer_without_a_valid_token(live_api: LiveAPI) -> None:
    walked = operations(live_api)
    assert len(walked) >= 12 and ("GET", "/api/health", "public") in walked
    assert {path for _, path, kind in walked if kind == "public"} <= PUBLIC | PAGES
    with httpx.Client(base_url=live_api.base, timeout=10) as client:
        for method, path, kind in walked:
            for auth in BAD_AUTH:
                headers = {} if auth is None else {"Authorization": auth}
                answer = client.request(method, path, headers=headers, json={})
                if auth and len(auth) > 8190:  # gunicorn's header limit refuses it first
                    assert answer.status_code in (400, 431), (method, path, answer.text)
                    continue
                if kind == "public":  # it answers without a token, never with a user's data
                    assert answer.status_code < 500 and answer.status_code != 401, (method, path)
                    assert live_api.tokens["alice"] not in answer.text
                    continue
                if kind == "session":  # a page form without a session: back to sign in
                    assert answer.status_code in (303, 403), (method, path, answer.status_code)
                    continue
                assert answer.status_code == 401, (method, path, auth, answer.text)
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert live_api.tokens["alice"] not in answer.text


def test_tokens_are_compared_in_constant_time(settings, database_url, monkeypatch) -> None:
    _, token = subscriptions.add_user("carol", time.time())
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    client = falcon.testing.TestClient(create_app(settings))
    good = client.simulate_get("/api/channels", headers={"Authorization": f"Bearer {token}"})
    assert good.status_code == 200
    assert calls and calls[-1][0] == calls[-1][1] == subscriptions.hash_token(token)
    # No plain == on the token or its hash anywhere on the path.
    source = open(subscriptions.__file__).read()
    assert "token_hash ==" not in source.replace("User.token_hash == digest", "")


def test_one_user_never_reads_changes_or_polls_anothers_channel(live_api: LiveAPI) -> None:
    theirs = live_api.channels["alice"]
    their_video = live_api.videos["alice"]
    before = Channel.get_by_id(theirs).__data__
    subscription = Subscription.get(Subscription.channel == theirs).__data__
    with httpx.Client(base_url=live_api.base, headers=live_api.headers("bob"), timeout=10) as bob:
        attempts = [
            bob.get(f"/api/channels/{theirs}"),
            bob.get(f"/api/channels/{theirs}/videos"),
            bob.patch(f"/api/channels/{theirs}", json={"mode": "future_only"}),
            bob.delete(f"/api/channels/{theirs}"),
            bob.post(f"/api/channels/{theirs}/poll"),
            bob.post(f"/api/channels/{theirs}/poll?wait=1"),
            bob.post(f"/api/videos/{their_video}/download"),
        ]
        for answer in attempts:
            assert answer.status_code == 404, (answer.request.url, answer.text)
        assert bob.get("/api/channels?scope=all").status_code == 403  # admins only
        assert bob.post("/api/channels/poll?scope=all").status_code == 403
        listed = bob.get("/api/channels").json()["items"]
        assert [c["id"] for c in listed] == [live_api.channels["bob"]]
        for query in ("", "?scope=all"):  # these lists have no scope: always the caller's own
            videos = bob.get(f"/api/videos{query}").json()["items"]
            assert videos and their_video not in {v["id"] for v in videos}
            events = bob.get(f"/api/events{query}").json()["items"]
            assert events and all(e.get("channel_id") != theirs for e in events)
        assert bob.post("/api/channels/poll").json() == {"enqueued": 1}  # only bob's own

    assert Channel.get_by_id(theirs).__data__ == before  # not claimed, not changed
    assert Subscription.get(Subscription.channel == theirs).__data__ == subscription
    assert Video.get_by_id(their_video).download_status == "none"


def test_oversized_and_malformed_bodies_are_rejected(live_api: LiveAPI) -> None:
    json_type = {"Content-Type": "application/json"}

    def chunks(size: int):
        for _ in range(size // 8192):
            yield b" " * 8192

    cases = {
        "declared too big": (b'{"url": "' + b"a" * 1_000_000 + b'"}', json_type, 413),
        "chunked too big": (chunks(1_000_000), json_type, 413),
        "malformed": (b'{"url": ', json_type, 400),
        "empty": (b"", json_type, 400),
        "not utf-8": (b'{"url": "\xff\xfe"}', json_type, 400),
        "NaN": (b'{"url": NaN}', json_type, 400),
        "deep nesting": (b"[" * 50_000 + b"]" * 50_000, json_type, 413),
        "nesting under the cap": (b"[" * 30_000 + b"]" * 30_000, json_type, 400),
        "an array": (b"[]", json_type, 422),
        "unknown field": (b'{"url": "https://example.com/f", "admin": true}', json_type, 422),
        "wrong type": (b'{"url": 5}', json_type, 422),
        "bad mode": (b'{"url": "https://example.com/f", "mode": "all"}', json_type, 422),
        "form body": (b"url=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        "no type": (b'{"url": "x"}', {}, 415),
        "private address": (b'{"url": "http://127.0.0.1:22/feed"}', json_type, 400),
        "file URL": (b'{"url": "file:///etc/passwd"}', json_type, 400),
    }
    channels_before = Channel.select().count()
    # A new connection per request: after a 413 the server does not read the rest of the body.
    with httpx.Client(
        base_url=live_api.base,
        headers={**live_api.headers("alice"), "Connection": "close"},
        timeout=30,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as alice:
        mine = f"/api/channels/{live_api.channels['alice']}"
        for name, (body, headers, status) in cases.items():
            for path, method in (("/api/channels", "POST"), (mine, "PATCH")):
                answer = alice.request(method, path, content=body, headers=headers)
                if name in ("private address", "file URL") and method == "PATCH":
                    assert answer.status_code == 422, (name, answer.text)  # no url field there
                    continue
                assert answer.status_code == status, (name, method, answer.text[:300])
                assert set(answer.json()) == {"title", "description"}, name
                if isinstance(body, bytes):
                    continue
                body = chunks(1_000_000)  # a generator is spent after one request
        assert alice.get("/api/health").status_code == 200  # the server is still fine
    assert Channel.select().count() == channels_before


def test_a_plain_client_sees_the_413_of_an_oversized_body(live_api: LiveAPI) -> None:
    """urllib writes its whole body before it reads: an unread body reset it (broken pipe)."""
    url = f"{live_api.base}/api/channels"
    headers = {**live_api.headers("alice"), "Content-Type": "application/json"}
    for size in (5_000_000, 5_000_000, 8_000_000):  # twice: a reset depends on timing
        request = urllib.request.Request(url, data=b"x" * size, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=30)
        assert answer.value.code == 413, size
        assert "65536 bytes" in json.loads(answer.value.read())["description"]

    def chunks() -> Iterator[bytes]:
        for _ in range(80):  # 5 MiB with no declared length
            yield b" " * 65536

    for auth in (live_api.headers("alice"), {}):  # refused by the cap, or before it (401)
        connection = http.client.HTTPConnection("127.0.0.1", live_api.port, timeout=30)
        connection.request(
            "POST", "/api/channels", body=chunks(), encode_chunked=True,
            headers={**auth, "Content-Type": "application/json"},
        )  # fmt: skip
        assert connection.getresponse().status == (413 if auth else 401)
        connection.close()
