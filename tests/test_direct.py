"""Direct media links: fetched through the guarded client, every redirect hop checked.

All on loopback. The guard's policy is swapped for one that refuses 127.0.0.2 only (another
loopback address) and allows 127.0.0.1: a redirect from an allowed first hop to a refused
address proves the check runs on each hop, without any address off this machine.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from poller import direct, downloads, netguard, ytdlp
from poller.config import Settings
from poller.errors import BlockedAddress
from poller.models import COMPLETE, FAILED, Channel, Video
from tests.support.answers import Route, reply
from tests.support.feedserver import FeedServer

CLIP = bytes(range(256)) * 400
NOW = 1_800_000_000.0


@pytest.fixture
def refuse_127_0_0_2(monkeypatch) -> None:
    """Judge 127.0.0.2 non-public and every other address public."""
    refused = ipaddress.ip_address("127.0.0.2")
    monkeypatch.setattr(
        netguard, "refusal", lambda ip: "a refused test address" if ip == refused else None
    )


def get(url: str, home: Path, stem: str, *, guard: bool = False) -> str | direct.Page:
    """Run `direct.download` with test limits; ``guard``: the address guard is on."""
    return direct.download(
        url, home, stem=stem, timeout=30, max_redirects=5, allow_private=not guard
    )


def redirect_to(location: str):
    return lambda handler: reply(handler, 302, b"", {"Location": location})


def test_media_is_streamed_to_its_file_and_a_retry_reuses_it(
    feeds: FeedServer, tmp_path: Path
) -> None:
    feeds.routes["/media/ep.mp3"] = Route(CLIP, "audio/mpeg")
    stem = ytdlp.file_stem(2, feeds.url("/media/ep.mp3"))
    got = get(feeds.url("/media/ep.mp3"), tmp_path, stem)
    assert got == str(tmp_path / f"{stem}.mp3")
    assert Path(got).read_bytes() == CLIP
    assert [p.name for p in (tmp_path / "2").iterdir()] == [Path(got).name]  # no .part left
    before = Path(got).stat()
    again = get(feeds.url("/media/ep.mp3"), tmp_path, stem)
    assert again == got and Path(got).stat().st_mtime_ns == before.st_mtime_ns


def test_a_page_is_left_to_yt_dlp_at_the_end_of_its_redirects(
    feeds: FeedServer, tmp_path: Path
) -> None:
    feeds.routes["/ep/1"] = redirect_to("/ep/1/page")
    feeds.routes["/ep/1/page"] = Route(b"<html></html>", "text/html")
    got = get(feeds.url("/ep/1"), tmp_path, "2/x")
    assert got == direct.Page(feeds.url("/ep/1/page"))
    assert not (tmp_path / "2").exists() or list((tmp_path / "2").iterdir()) == []


def test_every_redirect_hop_is_checked(
    feeds: FeedServer, tmp_path: Path, refuse_127_0_0_2: None
) -> None:
    feeds.routes["/media/real.mp3"] = Route(CLIP, "audio/mpeg")
    # The policy allows 127.0.0.1 with the guard on: a hop there is followed.
    feeds.routes["/ok"] = redirect_to(feeds.url("/media/real.mp3"))
    got = get(feeds.url("/ok"), tmp_path, "2/ok", guard=True)
    assert Path(got).read_bytes() == CLIP
    # A hop to the refused address is stopped before any connection is made.
    port = feeds.server_address[1]
    feeds.routes["/evil"] = redirect_to(f"http://127.0.0.2:{port}/media/real.mp3")
    seen = len(feeds.requests)
    with pytest.raises(BlockedAddress, match="127.0.0.2"):
        get(feeds.url("/evil"), tmp_path, "2/evil", guard=True)
    assert [r.path for r in feeds.requests[seen:]] == ["/evil"]
    assert not list((tmp_path / "2").glob("evil*"))


def test_a_download_redirected_to_a_refused_address_ends_failed(
    feeds: FeedServer, tmp_path: Path, refuse_127_0_0_2: None, conn
) -> None:
    port = feeds.server_address[1]
    feeds.routes["/enclosure.mp3"] = redirect_to(f"http://127.0.0.2:{port}/media/x.mp3")
    channel = Channel.create(kind="feed", feed_url=feeds.url("/pod.xml"), created_at=NOW)
    video = Video.create(
        channel=channel,
        external_id="ep",
        url=feeds.url("/enclosure.mp3"),
        discovered_at=NOW,
        updated_at=NOW,
    )
    settings = Settings(media_dir=tmp_path, allow_private_networks=False)
    downloads.request(video.id, NOW)
    outcome = downloads.download_video(video.id, NOW, settings, retrying=True)
    stored = Video.get_by_id(video.id)
    assert (outcome.status, stored.download_status) == (FAILED, FAILED)
    assert "127.0.0.2" in stored.download_error and "refused test address" in stored.download_error

    feeds.routes["/enclosure.mp3"] = Route(CLIP, "audio/mpeg")
    downloads.request(video.id, NOW)
    assert downloads.download_video(video.id, NOW, settings, retrying=True).status == COMPLETE
    assert Path(Video.get_by_id(video.id).download_path).read_bytes() == CLIP
