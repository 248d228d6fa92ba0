"""`tubepoller channel add` with a URL that cannot be parsed: one line, no traceback."""

from __future__ import annotations

import pytest

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
