"""The YouTube URLs people paste, parsed without the network."""

from __future__ import annotations

import pytest

from poller.sources import youtube

UC = "UC9PBzalIcEQCsiIkq36PyUA"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://www.youtube.com/channel/{UC}", youtube.YouTubeURL(channel_id=UC)),
        (f"https://youtube.com/channel/{UC}/videos", youtube.YouTubeURL(channel_id=UC)),
        (
            f"https://www.youtube.com/feeds/videos.xml?channel_id={UC}",
            youtube.YouTubeURL(channel_id=UC),
        ),
        (
            "https://www.youtube.com/@DigitalFoundry",
            youtube.YouTubeURL(page_path="/@DigitalFoundry"),
        ),
        ("https://m.youtube.com/@df/videos", youtube.YouTubeURL(page_path="/@df")),
        (
            "https://www.youtube.com/c/digitalfoundry",
            youtube.YouTubeURL(page_path="/c/digitalfoundry"),
        ),
        (
            "https://www.youtube.com/user/DigitalFoundry",
            youtube.YouTubeURL(page_path="/user/DigitalFoundry"),
        ),
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            youtube.YouTubeURL(page_path="/watch?v=dQw4w9WgXcQ"),
        ),
        ("https://youtu.be/dQw4w9WgXcQ?t=3", youtube.YouTubeURL(page_path="/watch?v=dQw4w9WgXcQ")),
        (
            "https://www.youtube.com/shorts/dQw4w9WgXcQ",
            youtube.YouTubeURL(page_path="/watch?v=dQw4w9WgXcQ"),
        ),
        (
            "https://www.youtube.com/live/dQw4w9WgXcQ",
            youtube.YouTubeURL(page_path="/watch?v=dQw4w9WgXcQ"),
        ),
        (
            "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
            youtube.YouTubeURL(playlist_id="PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"),
        ),
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
            youtube.YouTubeURL(playlist_id="PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"),
        ),
        # A channel's uploads playlist is the channel itself: one stored row.
        (f"https://www.youtube.com/playlist?list=UU{UC[2:]}", youtube.YouTubeURL(channel_id=UC)),
        ("https://www.youtube.com/watch?v=short", None),
        ("https://www.youtube.com/playlist?list=WL", None),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ", None),
        ("https://www.youtube.com/results?search_query=x", None),
        ("https://www.youtube.com/", None),
    ],
)
def test_pasted_urls_name_a_channel_a_playlist_or_a_page(url, expected):
    assert youtube.parse_url(url) == expected


def test_a_channel_page_names_its_channel_by_the_canonical_link_first():
    page = (
        b'<html><head><link rel="canonical" href="https://www.youtube.com/channel/'
        + UC.encode()
        + b'"></head><body>"channelId":"UCxxxxxxxxxxxxxxxxxxxxxx"</body></html>'
    )
    assert youtube.channel_id_in_page(page) == UC


def test_a_watch_page_names_its_channel_by_its_meta_or_json():
    assert (
        youtube.channel_id_in_page(b'<meta itemprop="channelId" content="' + UC.encode() + b'">')
        == UC
    )
    assert (
        youtube.channel_id_in_page(b'{"videoDetails":{"channelId":"' + UC.encode() + b'"}}') == UC
    )
    assert youtube.channel_id_in_page(b"<html>consent page</html>") is None


def test_playlists_are_polled_through_their_own_feed_and_listing():
    playlist = "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
    assert youtube.feed_url(playlist, "http://yt") == (
        f"http://yt/feeds/videos.xml?playlist_id={playlist}"
    )
    assert youtube.catalog_url(playlist, "http://yt") == f"http://yt/playlist?list={playlist}"
    assert youtube.feed_url(UC, "http://yt") == f"http://yt/feeds/videos.xml?channel_id={UC}"
