"""POST /api/import: an OPML file or a YouTube subscriptions.csv as the body."""

from __future__ import annotations

import listparser

from poller.models import CATALOG_ONLY, Subscription
from tests.api.support import Caller
from tests.test_cli_import import UC, opml

OPML = {"Content-Type": "text/x-opml"}


def test_an_opml_file_subscribes_the_caller_and_says_what_it_refused(
    alice: Caller, bob: Caller
) -> None:
    youtube = [f"https://www.youtube.com/channel/{UC.format(n)}" for n in range(150)]
    refused = ["ftp://127.0.0.1/feed.xml", "http://[zz]/f"]
    alice.subscribe(youtube[0])  # already there, its mode kept
    body = opml(youtube + refused).encode()

    done = alice.post("/api/import", body=body, headers=OPML, params={"mode": "catalog_only"})

    assert done.status_code == 200, done.text
    assert (done.json["added"], done.json["already"]) == (149, 1)
    assert [r["url"] for r in done.json["refused"]] == refused
    assert all(r["reason"] for r in done.json["refused"])
    mine = Subscription.select().where(Subscription.user == alice.user.id)
    assert mine.count() == 150 and {s.mode for s in mine} == {CATALOG_ONLY}
    assert bob.get("/api/channels").json["items"] == []  # the caller's subscriptions only
    again = alice.post("/api/import", body=body, headers=OPML)
    assert (again.json["added"], again.json["already"]) == (0, 150)


def test_a_takeout_csv_imports_and_exports_back_as_opml(alice: Caller) -> None:
    csv = "Channel Id,Channel Url,Channel Title\n" + "".join(
        f"{UC.format(n)},http://www.youtube.com/channel/{UC.format(n)},Channel {n}\n"
        for n in range(3)
    )
    done = alice.post("/api/import", body=csv.encode(), headers={"Content-Type": "text/csv"})
    assert done.status_code == 200 and done.json["added"] == 3, done.text
    urls = {item["url"] for item in alice.get("/api/channels").json["items"]}
    assert urls == {
        f"https://www.youtube.com/feeds/videos.xml?channel_id={UC.format(n)}" for n in range(3)
    }
    assert listparser.parse(opml(sorted(urls)).encode()).feeds  # a shape the export shares


def test_bad_files_and_modes_are_clear_errors(alice: Caller) -> None:
    cases = [
        (b"", {}, 400, "send the OPML file"),
        (b"<html><body>hi</body></html>", {}, 422, "names no subscription"),
        (b"\xff\xfe\x00garbage", {}, 422, "not a readable CSV"),
        (opml(["http://127.0.0.2/f"]).encode(), {"mode": "sometimes"}, 400, "mode is one of"),
    ]
    for body, params, status, text in cases:
        answer = alice.post("/api/import", body=body, headers=OPML, params=params)
        assert answer.status_code == status, (body[:20], answer.text)
        assert text in answer.json["description"], answer.json


def test_an_upload_may_be_larger_than_a_json_body_but_not_without_bound(alice: Caller) -> None:
    from api.middleware import MAX_BODY, MAX_UPLOAD

    urls = [f"https://www.youtube.com/channel/{UC.format(n)}" for n in range(2000)]
    body = opml(urls).encode()
    assert MAX_BODY < len(body) < MAX_UPLOAD
    assert alice.post("/api/import", body=body, headers=OPML).json["added"] == 2000
    huge = alice.post("/api/import", body=b" " * (MAX_UPLOAD + 1), headers=OPML)
    assert huge.status_code == 413
    assert alice.post("/api/channels", body=body, headers=OPML).status_code == 413
