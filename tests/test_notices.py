"""The pure parts of notifications: events, messages, masked URLs, backoff, URL checks."""

from __future__ import annotations

import pytest

from poller import notify
from poller.errors import UnknownEvent, UnusableURL
from poller.notices import (
    EVENTS,
    MAX_BACKOFF_S,
    Notice,
    check_events,
    compose,
    masked_url,
    retry_delay,
)


def test_events_are_checked_deduplicated_and_put_in_order() -> None:
    assert check_events(["downloaded", "new_episode", "downloaded"]) == [
        "new_episode",
        "downloaded",
    ]
    assert check_events(EVENTS) == list(EVENTS)
    with pytest.raises(UnknownEvent, match="unknown event 'uploaded'; the events are: new_ep"):
        check_events(["new_episode", "uploaded"])
    with pytest.raises(UnknownEvent, match="name at least one event"):
        check_events([" "])


def test_a_message_names_the_channel_the_video_its_url_and_when_it_was_published() -> None:
    notice = Notice(
        "new_episode",
        channel_title="Cooking <b>Daily</b>",
        video_title="Bread, part 2",
        video_url="https://www.youtube.com/watch?v=abc",
        published_at=1_800_000_000.0,
    )
    title, body = compose(notice)
    assert title == "New episode: Bread, part 2"
    assert body.splitlines() == [
        "Channel: Cooking <b>Daily</b>",
        "Video: Bread, part 2",
        "URL: https://www.youtube.com/watch?v=abc",
        "Published: 2027-01-15T08:00:00Z",
    ]


def test_a_downloaded_message_carries_the_file_and_a_failed_one_the_reason() -> None:
    done = Notice("downloaded", "C", video_title="V", video_url="u", payload={"path": "/m/3/v.mp4"})
    assert compose(done)[0] == "Downloaded: V"
    assert "File: /m/3/v.mp4" in compose(done)[1].splitlines()
    assert "Published: unknown" in compose(done)[1].splitlines()
    failed = Notice("download_failed", "C", video_title="V", payload={"error": "HTTP 403"})
    assert compose(failed)[0] == "Download failed: V"
    assert compose(failed)[1].endswith("Error: HTTP 403")


def test_a_test_message_says_what_it_is() -> None:
    title, body = compose(Notice("test"))
    assert title == "tubepoller test" and "receives tubepoller's notifications" in body


@pytest.mark.parametrize(
    ("url", "secret", "shown"),
    [
        ("json://bob:hunter2@127.0.0.1:9/hook", "hunter2", "json://bob:****@127.0.0.1:9/hook"),
        (
            "json://127.0.0.1:9/hook?+Authorization=Bearer%20s3cr3t",
            "s3cr3t",
            "json://127.0.0.1:9/hook?+Authorization=****",
        ),
        ("discord://112233/webhooktokenABCDEF", "webhooktokenABCDEF", None),
        ("tgram://123456789:AAbotTokenSecret/987", "AAbotTokenSecret", None),
        ("gotify://gotify.example.org/AppTokenValue1", "AppTokenValue1", None),
    ],
)
def test_a_shown_url_never_holds_its_secret(url: str, secret: str, shown: str | None) -> None:
    masked = notify.shown_url(url)
    assert secret not in masked
    assert masked.split("://")[0] == url.split("://")[0]
    if shown is not None:
        assert masked == shown


def test_a_url_apprise_cannot_read_is_shown_without_its_password_or_path() -> None:
    assert masked_url("bogus://me:pw@host/secretpath", None) == "bogus://****@host/****"
    assert masked_url("json://me:pw@[::1/x", None) == "json://****"
    with pytest.raises(UnusableURL, match=r"^'json://\*\*\*\*' is not an Apprise URL"):
        notify.check_target("json://me:pw@[::1/x", ["new_episode"], allow_private=True)


def test_the_backoff_doubles_from_the_setting_up_to_five_minutes_with_jitter() -> None:
    assert [retry_delay(n, 15, 0) for n in range(6)] == [15, 30, 60, 120, 240, 300]
    assert retry_delay(1, 15, 0.999) == pytest.approx(30 * 1.4995)
    assert retry_delay(30, 15, 0.9) == MAX_BACKOFF_S


def test_a_target_url_is_read_by_apprise_and_a_webhook_on_loopback_needs_the_setting() -> None:
    url = "json://127.0.0.1:8/hook"
    assert notify.check_target(url, ["new_episode"], allow_private=True) == (url, ["new_episode"])
    with pytest.raises(UnusableURL, match="127.0.0.1 is a loopback address; set TUBEPOLLER_ALLOW"):
        notify.check_target(url, ["new_episode"], allow_private=False)
    with pytest.raises(UnusableURL, match="is not an Apprise URL"):
        notify.check_target("https://example.org/hook", ["new_episode"], allow_private=True)
    with pytest.raises(UnusableURL, match="is not an Apprise URL"):
        notify.check_target("json://", ["new_episode"], allow_private=True)
    # A service's own host is not the guard's: ntfy.sh is a public service.
    assert notify.check_target("ntfy://ntfy.sh/topic", ["downloaded"], allow_private=False)
