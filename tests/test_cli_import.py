"""`tubepoller import` and `export`: OPML and YouTube's subscriptions.csv, through the command."""

from __future__ import annotations

import time
from pathlib import Path

import listparser

from tests.test_cli import env, run  # noqa: F401 (the fixture)

UC = "UC{:022d}"


def opml(urls: list[str]) -> str:
    outlines = "".join(
        f'<outline type="rss" text="n{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    return (
        '<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head>'
        f'<body><outline text="folder">{outlines}</outline></body></opml>'
    )


def test_two_thousand_subscriptions_import_with_progress_and_a_summary(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    youtube = [f"https://www.youtube.com/channel/{UC.format(n)}" for n in range(1500)]
    feeds = [f"http://127.0.0.1:9/feed/{n}.xml" for n in range(497)]
    refused = ["ftp://127.0.0.1/feed.xml", "https://www.youtube.com/results?q=x", "http://[zz]/f"]
    path = tmp_path / "subscriptions.opml"
    path.write_text(opml(youtube + feeds + refused))
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    for url in youtube[:10]:  # already there: their mode stays
        run(env, "channel", "add", url, "--mode", "catalog_only")

    started = time.monotonic()
    done = run(env, "import", str(path), "--user", "alice", check=False)
    elapsed = time.monotonic() - started
    print(f"imported 2,000 entries in {elapsed:.1f} s")
    assert done.returncode == 0, done.stderr
    assert "importing 2000 subscriptions for alice" in done.stderr
    assert "  100/2000: 90 added, 10 already there, 0 refused" in done.stderr.splitlines()
    assert done.stdout.splitlines()[-1] == (
        "1987 added, 10 already there, 3 refused; first polls at the next tick"
    )
    assert len([line for line in done.stdout.splitlines() if line.startswith("refused ")]) == 3

    exported = run(env, "export", "--user", "alice").stdout
    assert {f.url for f in listparser.parse(exported.encode()).feeds} == {
        f"https://www.youtube.com/feeds/videos.xml?channel_id={UC.format(n)}" for n in range(1500)
    } | set(feeds)
    again = tmp_path / "again.opml"
    again.write_text(exported)
    assert run(env, "import", str(again)).stdout.splitlines()[-1] == (
        "0 added, 1997 already there, 0 refused"
    )


def test_a_youtube_takeout_csv_imports_its_channels(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "subscriptions.csv"
    path.write_text(
        "Channel Id,Channel Url,Channel Title\n"
        f"{UC.format(1)},http://www.youtube.com/channel/{UC.format(1)},One\n"
        f"{UC.format(2)},,Two\n"
    )
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    assert run(env, "import", str(path)).stdout.splitlines()[-1].startswith("2 added")


def test_a_file_that_is_no_subscription_list_is_one_line(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    run(env, "db", "init")
    run(env, "user", "add", "alice")
    failed = run(env, "import", str(path), check=False)
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines()[-1] == (
        "tubepoller: error: the file names no subscription (OPML or YouTube CSV expected)"
    )
