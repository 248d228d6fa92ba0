"""The id scan and the parser agree on every feed the parser reads.

A scan that sees fewer ids than the parser makes a poll say "unchanged" while
the feed has new uploads. For every body, `scan_ids` is either None ("parse
it") or exactly the set of ids `parse_feed` gives.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from poller.errors import PermanentError
from poller.parse import parse_feed
from poller.scan import scan_ids

DATA = Path(__file__).parent / "data"
ATOM = '<feed xmlns="http://www.w3.org/2005/Atom" {ns}><title>t</title>{entries}</feed>'
RSS = '<rss version="2.0" {ns}><channel><title>t</title>{entries}</channel>{after}</rss>'
RDF = (
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns="http://purl.org/rss/1.0/" {ns}><channel rdf:about="http://x/"><title>t</title>'
    "</channel>{entries}</rdf:RDF>"
)
NAMESPACES = (
    'xmlns:yt="http://www.youtube.com/xml/schemas/2015"',
    'xmlns:y="http://www.youtube.com/xml/schemas/2015"',
    'xmlns:yt="urn:not-youtube"',
    'xmlns:atom="http://www.w3.org/2005/Atom"',
)
SEEDS = 600  # generated feeds
LONG = "http://example.com/episodes/" + "x" * 300
# Pieces of an entry; each entry of a generated feed is a few of them.
ATOM_PARTS = (
    "<id>tag:x,{n}</id>",
    "<id></id>",
    "<id>  tag:x,{n}\n</id>",
    "<yt:videoId>vid{n}</yt:videoId>",
    "<y:videoId>vid{n}</y:videoId>",
    '<link href="http://x/{n}"/>',
    '<link rel="enclosure" href="http://x/{n}.mp3"/>',
    "<id>tag:x,<b>{n}</b></id>",
    f"<id>{LONG}{{n}}</id>",
    "<id>tag:&amp;x,{n}\u200b</id>",
    "<source><id>tag:source</id></source>",
    "<id>http:///x/{n}</id>",
    "<id>caf\u00c3\u00a9{n}</id>",
    '<id mode="base64">dGFnOng={n}</id>',
    "<title>e{n}</title>",
)
RSS_PARTS = (
    "<guid>g{n}</guid>",
    "<guid> </guid>",
    '<guid isPermaLink="false">g{n}</guid>',
    "<link>http://x/{n}</link>",
    '<atom:link href="http://x/{n}"/>',
    '<enclosure url="http://x/{n}.mp3" type="audio/mpeg"/>',
    "<atom:id>a{n}</atom:id>",
    f"<guid>{LONG}{{n}}</guid>",
    "<guid>a &amp;lt; b {n}</guid>",
    "<guid><![CDATA[g{n}]]></guid>",
    "<guid>http:///x/{n}</guid>",
    "<guid>\u00c3\u00a9{n}</guid>",
    "<guid>a\u0085{n}</guid>",
    '<guid isPermaLink="false">http:///x/{n}</guid>',
    "<link>http:///y/{n}</link>",
    "<title>e{n}</title>",
)


def _ids(body: bytes) -> set[str] | None:
    """Return the parser's ids, or None when it refuses the body."""
    try:
        return {e.external_id for e in parse_feed(body).entries}
    except PermanentError:
        return None


def assert_agree(body: bytes) -> None:
    scanned = scan_ids(body)
    if scanned is None:
        return
    parsed = _ids(body)
    assert set(scanned) == (parsed or set()), body[:300]
    if parsed is None:
        assert scanned == [], body[:300]


def _generated(seed: int) -> bytes:
    rng = random.Random(seed)
    shape = rng.choice(("atom", "rss", "rdf"))
    parts = ATOM_PARTS if shape == "atom" else RSS_PARTS
    entries = []
    for n in range(rng.randint(1, 4)):
        # Half the entries plain (an id and a title), so that the scan has feeds to read.
        plain = rng.random() < 0.5
        chosen = [parts[0], parts[-1]] if plain else rng.sample(parts, rng.randint(1, 3))
        tag = {"atom": "entry", "rss": "item", "rdf": "item"}[shape]
        about = f' rdf:about="http://x/about{n}"' if shape == "rdf" and rng.random() < 0.5 else ""
        base = ' xml:base="http://base/"' if rng.random() < 0.1 else ""
        body = "".join(p.format(n=n) for p in chosen)
        entries.append(f"<{tag}{about}{base}>{body}</{tag}>")
    ns = " ".join(rng.sample(NAMESPACES, rng.randint(0, 2)))
    if "xmlns:atom" not in ns and shape != "atom":
        ns += ' xmlns:atom="http://www.w3.org/2005/Atom"'
    if shape == "atom":  # every prefix the parts use must be bound
        for prefix in ("yt", "y"):
            if f"xmlns:{prefix}=" not in ns:
                ns += f' xmlns:{prefix}="urn:{prefix}"'
    joined = "".join(entries)
    if shape == "atom":
        return ATOM.format(ns=ns, entries=joined).encode()
    if shape == "rdf":
        return RDF.format(ns=ns, entries=joined).encode()
    # Some RSS items stand outside <channel>, as feedparser accepts.
    cut = rng.randint(0, len(entries))
    return RSS.format(ns=ns, entries="".join(entries[:cut]), after="".join(entries[cut:])).encode()


def test_generated_feeds_include_the_shapes_feedparser_rewrites() -> None:
    bodies = b"".join(_generated(seed) for seed in range(SEEDS))
    for piece in (b"xml:base", b"http:///", "\u00c3\u00a9".encode(), "\u0085".encode()):
        assert piece in bodies


CORPUS = sorted((DATA / "illformed").glob("*.xml")) + [DATA / "youtube-channel-digitalfoundry.xml"]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_scan_and_parse_agree_on_the_ill_formed_corpus(path: Path) -> None:
    assert_agree(path.read_bytes())


CASES = {
    "atom-link-no-id": ATOM.format(
        ns="", entries='<entry><title>a</title><link href="http://x/1"/></entry>'
    ),
    "rss-items-outside-channel": RSS.format(
        ns="", entries="<item><guid>in</guid></item>", after="<item><guid>out</guid></item>"
    ),
    "youtube-other-prefix": ATOM.format(
        ns='xmlns:v="http://www.youtube.com/xml/schemas/2015"',
        entries="<entry><id>yt:video:abc</id><v:videoId>abc</v:videoId></entry>",
    ),
    "yt-prefix-other-namespace": ATOM.format(
        ns='xmlns:yt="urn:x"', entries="<entry><id>i</id><yt:videoId>abc</yt:videoId></entry>"
    ),
    "unknown-encoding": '<?xml version="1.0" encoding="x-bogus"?>'
    + RSS.format(ns="", entries="<item><guid>g</guid></item>", after=""),
    "guid-with-nul-reference": RSS.format(
        ns="", entries="<item><guid>a&#0;b</guid></item>", after=""
    ),
    "long-guids-sharing-a-prefix": RSS.format(
        ns="",
        entries=f"<item><guid>{LONG}1</guid></item><item><guid>{LONG}2</guid></item>",
        after="",
    ),
    "entry-inside-entry": ATOM.format(
        ns="", entries="<entry><id>outer</id><entry><id>inner</id></entry></entry>"
    ),
}


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
def test_scan_and_parse_agree_on_shapes_the_parser_accepts(body: str) -> None:
    assert_agree(body.encode("utf-8"))


def test_the_scan_gives_up_where_it_used_to_see_fewer_ids_than_the_parser() -> None:
    for name in ("atom-link-no-id", "rss-items-outside-channel"):
        body = CASES[name].encode()
        assert scan_ids(body) is None
    assert _ids(CASES["rss-items-outside-channel"].encode()) == {"in", "out"}
    assert _ids(CASES["atom-link-no-id"].encode()) == {"http://x/1"}


def test_the_parser_reads_a_youtube_id_under_any_prefix() -> None:
    body = CASES["youtube-other-prefix"].encode()
    assert scan_ids(body) == ["abc"] and _ids(body) == {"abc"}


@pytest.mark.parametrize("seed", range(SEEDS))
def test_scan_and_parse_agree_on_generated_feeds(seed: int) -> None:
    assert_agree(_generated(seed))


def test_generated_feeds_exercise_both_the_scan_and_the_fallback() -> None:
    scanned = [bool(scan_ids(_generated(seed))) for seed in range(SEEDS)]
    assert SEEDS // 10 <= sum(scanned) <= SEEDS * 9 // 10
