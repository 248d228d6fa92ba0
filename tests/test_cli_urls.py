"""`tubepoller channel add`: an unparsable URL is one line; a new mode replaces the old."""

from __future__ import annotations

import pytest

from tests.support.feedserver import FeedServer
from tests.test_cli import env, run  # noqa: F401 (env is a fixture)


@pytest.mark.parametrize(
    "url",
    ["http://[::1:18931/feed", "http://[zz]/feed", "http://127.0.0.1:99999/feed"],
)
def test_an_unparsable_url_is_a_one_line_error(env: dict[str, str], url: str) -> None:  # noqa: F811
    run(env, "db", "init")
    run(env, "user", "add", "alice")

    result = run(env, "channel", "add", url, check=False)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"tubepoller: error: {url!r} is not a valid URL: ")


def test_channel_add_again_with_another_mode_changes_it(
    env: dict[str, str],  # noqa: F811
    feeds: FeedServer,
) -> None:
    source = feeds.add_channel()
    url = f"https://www.youtube.com/channel/{source.id}"
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    assert "mode catalog_only" in run(env, "channel", "add", url, "--mode", "catalog_only").stdout

    again = run(env, "channel", "add", url, "--mode", "future_only").stdout
    plain = run(env, "channel", "add", url).stdout  # no --mode: keep it

    assert "already subscribed" in again and "mode future_only (was catalog_only)" in again
    assert "mode future_only" in plain and "was" not in plain
