"""Which new videos a subscription downloads by itself."""

from __future__ import annotations

from poller.gating import should_download
from poller.models import CATALOG_ONLY, FUTURE_ONLY

SUBSCRIBED = 1000.0


def test_future_only_downloads_what_was_published_after_subscribing() -> None:
    assert should_download(FUTURE_ONLY, SUBSCRIBED, 1001.0, 1001.0, backfill=False)
    assert not should_download(FUTURE_ONLY, SUBSCRIBED, 999.0, 1001.0, backfill=False)


def test_catalog_only_never_downloads() -> None:
    assert not should_download(CATALOG_ONLY, SUBSCRIBED, 2000.0, 2000.0, backfill=False)


def test_back_catalog_is_never_downloaded_automatically() -> None:
    assert not should_download(FUTURE_ONLY, SUBSCRIBED, 2000.0, 2000.0, backfill=True)


def test_a_video_without_a_date_counts_from_when_it_was_seen() -> None:
    assert should_download(FUTURE_ONLY, SUBSCRIBED, None, 1500.0, backfill=False)
    assert not should_download(FUTURE_ONLY, SUBSCRIBED, None, 500.0, backfill=False)


def test_an_unknown_mode_downloads_nothing() -> None:
    assert not should_download("everything", SUBSCRIBED, 2000.0, 2000.0, backfill=False)
