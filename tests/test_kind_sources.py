"""Reading the uploads playlist feeds: a missing playlist, an unread one, the host's refusals."""

from __future__ import annotations

import pytest

from poller import kind_sources, sources
from poller.errors import PermanentError, PollError, TransientError
from poller.fetch import FetchResult
from tests.support.fakeyoutube import BOT_CHECK_PAGE

CHANNEL = "UC" + "x" * 22


def answering(monkeypatch: pytest.MonkeyPatch, answer: FetchResult | PollError) -> list[str]:
    asked: list[str] = []

    def fetch_page(url: str, settings: object) -> FetchResult:
        asked.append(url)
        if isinstance(answer, PollError):
            raise answer
        return answer

    monkeypatch.setattr(sources, "fetch_page", fetch_page)
    return asked


def test_a_playlist_feed_gives_its_ids_from_the_channels_playlist_url(
    monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" '
        b'xmlns:yt="http://www.youtube.com/xml/schemas/2015">'
        b"<entry><id>yt:video:v1</id><yt:videoId>v1</yt:videoId></entry></feed>"
    )
    asked = answering(monkeypatch, FetchResult(200, body, None, None, None, None))
    assert kind_sources.playlist_ids(CHANNEL, "UUSH", settings) == ["v1"]
    assert asked == [f"{settings.youtube_url}/feeds/videos.xml?playlist_id=UUSH{'x' * 22}"]


@pytest.mark.parametrize(
    "error, ids",
    [
        pytest.param(PermanentError("HTTP 404 from host"), None, id="no-such-playlist"),
        pytest.param(TransientError("timed out after 5 s fetching host"), [], id="unread"),
        pytest.param(TransientError("HTTP 503 from host"), [], id="server-error"),
    ],
)
def test_a_missing_playlist_is_none_and_an_unread_one_empty(
    monkeypatch: pytest.MonkeyPatch, settings, error: PollError, ids: list[str] | None
) -> None:
    answering(monkeypatch, error)
    assert kind_sources.playlist_ids(CHANNEL, "UULF", settings) == ids


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(TransientError("HTTP 429 from host", retry_after_s=60), id="429"),
        pytest.param(FetchResult(200, BOT_CHECK_PAGE, None, None, None, None), id="bot-check"),
    ],
)
def test_a_429_or_a_bot_check_ends_the_poll_to_pause_the_host(
    monkeypatch: pytest.MonkeyPatch, settings, answer: FetchResult | PollError
) -> None:
    answering(monkeypatch, answer)
    with pytest.raises(PollError):
        kind_sources.playlist_ids(CHANNEL, "UULF", settings)
