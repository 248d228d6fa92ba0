"""`tubepoller channel add` with a handle, as a user pastes it, through the real command."""

from __future__ import annotations

from tests.support.answers import Route
from tests.support.feedserver import FeedServer
from tests.test_cli import env, run  # noqa: F401 (the fixture)


def test_a_handle_subscribes_to_its_channel_and_a_page_without_one_is_one_line(
    env: dict[str, str],  # noqa: F811
    feeds: FeedServer,
) -> None:
    source = feeds.add_channel()
    page = f'<link rel="canonical" href="https://www.youtube.com/channel/{source.id}">'
    feeds.routes["/@someone"] = Route(page.encode(), "text/html")
    feeds.routes["/@consent"] = Route(b"<html>Before you continue</html>", "text/html")
    run(env, "db", "init")
    run(env, "user", "add", "alice")

    out = run(env, "channel", "add", "https://www.youtube.com/@someone").stdout
    assert (
        f"subscribed to channel 1 (https://www.youtube.com/feeds/videos.xml?channel_id={source.id})"
        in out
    )
    again = run(env, "channel", "add", f"https://www.youtube.com/channel/{source.id}").stdout
    assert "already subscribed to channel 1" in again

    refused = run(env, "channel", "add", "https://www.youtube.com/@consent", check=False)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        f"tubepoller: error: the page {feeds.base}/@consent names no YouTube channel"
    ]
