"""Subscribing with the YouTube URLs people paste: handles, names, videos, playlists.

The pages are served by the test feed server, where TUBEPOLLER_YOUTUBE_URL
points; the pasted URL's own host (www.youtube.com) is never contacted.
"""

from __future__ import annotations

import pytest

from tests.api.support import Caller
from tests.support.answers import Route
from tests.support.feedserver import FeedServer

UC = "UC9PBzalIcEQCsiIkq36PyUA"
CHANNEL_PAGE = (
    f'<html><head><link rel="canonical" href="https://www.youtube.com/channel/{UC}">'
    '</head><body>"channelId":"UCaaaaaaaaaaaaaaaaaaaaaa"</body></html>'
).encode()
WATCH_PAGE = f'<html><meta itemprop="channelId" content="{UC}"></html>'.encode()


@pytest.fixture
def pages(feeds: FeedServer) -> FeedServer:
    for path in ("/@digitalfoundry", "/c/digitalfoundry", "/user/DigitalFoundry"):
        feeds.routes[path] = Route(CHANNEL_PAGE, "text/html")
    feeds.routes["/watch"] = Route(WATCH_PAGE, "text/html")
    return feeds


def test_every_url_of_one_channel_is_one_subscription(alice: Caller, pages: FeedServer) -> None:
    urls = [
        f"https://www.youtube.com/channel/{UC}",
        "https://www.youtube.com/@digitalfoundry",
        "https://www.youtube.com/c/digitalfoundry/videos",
        "https://m.youtube.com/user/DigitalFoundry",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
    ]
    answers = [alice.post("/api/channels", json={"url": url}) for url in urls]
    assert [a.status_code for a in answers] == [201] + [200] * (len(urls) - 1)
    assert {a.json["id"] for a in answers} == {answers[0].json["id"]}
    assert answers[0].json["url"] == f"https://www.youtube.com/feeds/videos.xml?channel_id={UC}"
    # Each page was read on the configured YouTube base, once per pasted URL.
    assert pages.hits.get("/@digitalfoundry") == 1
    assert len(alice.get("/api/channels").json["items"]) == 1


def test_a_page_that_names_no_channel_is_a_clear_400(alice: Caller, feeds: FeedServer) -> None:
    feeds.routes["/@nobody"] = Route(b"<html>Before you continue to YouTube</html>", "text/html")
    answer = alice.post("/api/channels", json={"url": "https://www.youtube.com/@nobody"})
    assert answer.status_code == 400
    assert "names no YouTube channel" in answer.json["description"]


def test_a_handle_that_does_not_exist_is_a_clear_400(alice: Caller, feeds: FeedServer) -> None:
    answer = alice.post("/api/channels", json={"url": "https://www.youtube.com/@missing"})
    assert answer.status_code == 400
    assert "HTTP 404" in answer.json["description"], answer.json


def test_a_playlist_is_its_own_source_polled_through_its_feed(alice: Caller) -> None:
    playlist = "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
    answer = alice.post(
        "/api/channels", json={"url": f"https://www.youtube.com/playlist?list={playlist}"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json["url"].endswith(f"/feeds/videos.xml?playlist_id={playlist}")
    # A channel's uploads playlist is the channel, not a second source.
    uploads = alice.post(
        "/api/channels", json={"url": f"https://www.youtube.com/playlist?list=UU{UC[2:]}"}
    )
    channel = alice.post("/api/channels", json={"url": f"https://www.youtube.com/channel/{UC}"})
    assert uploads.status_code == 201 and channel.status_code == 200
    assert uploads.json["id"] == channel.json["id"] != answer.json["id"]


def test_a_youtube_url_of_no_known_shape_is_refused(alice: Caller) -> None:
    for url in (
        "https://www.youtube.com/results?search_query=x",
        "https://www.youtube.com/playlist?list=WL",
    ):
        answer = alice.post("/api/channels", json={"url": url})
        assert answer.status_code == 400, url
        assert "not a YouTube URL we can follow" in answer.json["description"]
