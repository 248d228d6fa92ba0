"""/api/notifications: add (checked with Apprise), list masked with deliveries, remove own only."""

from __future__ import annotations

from tests.api.support import Caller

HOOK = "json://me:hunter2@127.0.0.1:9/hook"


def test_a_target_is_added_listed_masked_and_removed(alice: Caller) -> None:
    added = alice.post(
        "/api/notifications", json={"url": HOOK, "events": ["downloaded", "new_episode"]}
    )
    assert added.status_code == 201, added.text
    assert added.headers["Location"] == f"/api/notifications/{added.json['id']}"
    assert added.json["url"] == "json://me:****@127.0.0.1:9/hook"
    assert added.json["events"] == ["new_episode", "downloaded"]
    assert added.json["service"] == "JSON" and added.json["deliveries"] == []

    listed = alice.get("/api/notifications")
    assert listed.status_code == 200 and listed.json["items"] == [added.json]
    assert "hunter2" not in listed.text

    assert alice.delete(f"/api/notifications/{added.json['id']}").status_code == 204
    assert alice.get("/api/notifications").json["items"] == []
    assert alice.delete(f"/api/notifications/{added.json['id']}").status_code == 404


def test_another_users_target_is_a_404_and_stays(alice: Caller, bob: Caller) -> None:
    target = alice.post("/api/notifications", json={"url": HOOK, "events": ["new_episode"]}).json
    assert bob.get("/api/notifications").json["items"] == []
    gone = bob.delete(f"/api/notifications/{target['id']}")
    assert (
        gone.status_code == 404
        and gone.json["description"] == f"no notification target {target['id']}"
    )
    assert [t["id"] for t in alice.get("/api/notifications").json["items"]] == [target["id"]]


def test_a_url_apprise_cannot_read_or_an_unknown_event_is_a_400(alice: Caller) -> None:
    bad = alice.post(
        "/api/notifications", json={"url": "hook://nowhere", "events": ["new_episode"]}
    )
    assert bad.status_code == 400 and bad.json["title"] == "Unusable URL"
    assert "not an Apprise URL" in bad.json["description"]
    unknown = alice.post("/api/notifications", json={"url": HOOK, "events": ["uploaded"]})
    assert unknown.status_code == 400 and unknown.json["title"] == "Unknown event"
    assert "the events are: new_episode, downloaded" in unknown.json["description"]
    none = alice.post("/api/notifications", json={"url": HOOK, "events": []})
    assert none.status_code == 400 and "at least one event" in none.json["description"]
    wrong = alice.post("/api/notifications", json={"url": HOOK, "events": "new_episode"})
    assert wrong.status_code == 422 and wrong.json["description"] == "events: must be an array"
    assert alice.get("/api/notifications").json["items"] == []


def test_the_operations_are_in_the_openapi_document(alice: Caller) -> None:
    document = alice.get("/api/openapi.json").json
    assert set(document["paths"]["/api/notifications"]) == {"get", "post"}
    assert set(document["paths"]["/api/notifications/{target_id}"]) == {"delete"}
    events = document["components"]["schemas"]["AddTarget"]["properties"]["events"]
    assert "download_failed" in events["description"]
