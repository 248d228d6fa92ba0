"""Scan pulls the same ids feedparser sees; parse survives ill-formed feeds."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest

from poller.errors import PermanentError
from poller.parse import clean_text, parse_feed
from poller.scan import scan_ids

DATA = Path(__file__).parent / "data"
YOUTUBE = (DATA / "youtube-channel-digitalfoundry.xml").read_bytes()


def test_scan_reads_the_video_ids_of_a_real_youtube_feed() -> None:
    ids = scan_ids(YOUTUBE)
    assert ids is not None and len(ids) == 15
    assert ids[0] == "W_S7iKZZdHw"


def test_parse_reads_the_real_youtube_feed() -> None:
    feed = parse_feed(YOUTUBE)
    assert feed.title == "Digital Foundry"
    first = feed.entries[0]
    assert first.external_id == "W_S7iKZZdHw"
    assert first.url == "https://www.youtube.com/watch?v=W_S7iKZZdHw"
    assert first.published_at == 1735747644.0  # 2025-01-01T16:07:24Z
    assert first.title.startswith("Digital Foundry Games of 2024")


def test_scan_and_parse_agree_on_ids() -> None:
    assert scan_ids(YOUTUBE) == [e.external_id for e in parse_feed(YOUTUBE).entries]


@pytest.mark.parametrize(
    "body",
    [
        b'<rss version="2.0"><channel><item><guid> g-1 </guid><link>http://x/1</link></item>'
        b"<item><link>http://x/2</link></item>"
        b'<item><enclosure url="http://x/3.mp3" type="audio/mpeg"/></item></channel></rss>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>tag:x,1</id><title>a</title>'
        b"</entry></feed>",
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/"><item rdf:about="http://x/1"><title>t</title>'
        b"<link>http://x/1</link></item></rdf:RDF>",
    ],
    ids=["rss", "atom", "rdf"],
)
def test_scan_and_parse_agree_on_rss_atom_and_rdf(body: bytes) -> None:
    assert scan_ids(body) == [e.external_id for e in parse_feed(body).entries]


def test_scan_gives_up_on_ill_formed_xml_so_parse_runs() -> None:
    assert scan_ids(b"<rss><channel><item><guid>1</guid></item>") is None
    assert scan_ids(b"<html><body>not a feed</body></html>") is None


def test_scan_refuses_entity_declarations() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<rss><channel><item><guid>&lol2;</guid></item></channel></rss>"
    )
    with pytest.raises(PermanentError, match="declares XML entities"):
        scan_ids(bomb)


def test_ill_formed_xml_without_usable_entries_is_refused() -> None:
    with pytest.raises(PermanentError, match="no entry has an id"):
        parse_feed(b"<rss version='2.0'><channel><item><title>unclosed")


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "illformed").glob("*.xml")))
def test_parse_reads_or_clearly_refuses_every_ill_formed_feed(name: str) -> None:
    body = (DATA / "illformed" / name).read_bytes()
    try:
        feed = parse_feed(body)
    except PermanentError as exc:
        assert str(exc).startswith("not a feed")
        return
    assert all(e.external_id for e in feed.entries)


def test_ill_formed_feeds_with_ids_still_yield_their_entries() -> None:
    body = (DATA / "illformed" / "rss_item_link_corrupted_ampersands.xml").read_bytes()
    assert [e.external_id for e in parse_feed(body).entries] == ["http://link/get?a=1&b=2"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<html><head><title>Hi</title></head><body>page</body></html>", "no RSS or Atom root"),
        (b'{"json": true}', "not well-formed"),
    ],
)
def test_a_body_that_is_no_feed_is_a_permanent_error(body: bytes, reason: str) -> None:
    with pytest.raises(PermanentError, match=reason):
        parse_feed(body)


def test_hostile_titles_are_cleaned_and_capped() -> None:
    title = "<b>x</b>\x00\x07\u202e" + "A" * 100_000
    body = (
        '<rss version="2.0"><channel><item><guid>1</guid><title><![CDATA['
        + title
        + "]]></title></item></channel></rss>"
    ).encode()
    entry = parse_feed(body).entries[0]
    assert len(entry.title) == 500
    assert "\x00" not in entry.title and "\x07" not in entry.title
    assert clean_text("a\n\tb  c") == "a b c"


@pytest.mark.parametrize(
    ("body", "fast"),
    [
        (b'<?xml version="1.0" encoding="UTF-8"?><feed/>', True),
        (b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n<rss/>", True),
        (b"<rss/>", True),
        (b'<?xml version="1.0"?><!DOCTYPE rss><rss/>', False),
        (b"<rss><!-- a comment --></rss>", False),
        (b"<rss><![CDATA[x]]></rss>", False),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><rss/>', False),
        (b'<?xml version="1.0"?><?xml-stylesheet href="s.xsl"?><rss/>', False),
        ('<?xml version="1.0" encoding="UTF-16"?><rss/>'.encode("utf-16"), False),
    ],
    ids=["utf-8", "bom", "bare", "doctype", "comment", "cdata", "latin-1", "pi", "utf-16"],
)
def test_only_a_body_that_can_declare_nothing_skips_defusedxml(
    monkeypatch: pytest.MonkeyPatch, body: bytes, fast: bool
) -> None:
    from poller import scan

    used = []
    monkeypatch.setattr(scan, "fast_fromstring", lambda b: used.append("c") or Element("x"))
    monkeypatch.setattr(scan, "fromstring", lambda b, **kw: used.append("defused") or Element("x"))
    scan_ids(body)
    assert used == (["c"] if fast else ["defused"])


def test_the_c_parser_scans_a_real_youtube_feed_as_defusedxml_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from poller import scan

    fast = scan_ids(YOUTUBE)
    monkeypatch.setattr(scan, "_PLAIN_START", re.compile(b"(?!)"))  # never the C parser
    assert fast == scan_ids(YOUTUBE) and fast is not None and len(fast) == 15
