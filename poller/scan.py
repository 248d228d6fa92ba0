"""Pull entry ids out of a feed body cheaply, before any real parse.

Most polls find nothing new; an ElementTree pass costs well under a
millisecond where feedparser costs ~20 ms, so we parse only what is unseen.
The ids must equal the ones `parse.entry_id` derives from feedparser's view:
a scan that saw fewer ids would call a feed with new uploads "unchanged".
So the scan reads only the plain shapes it is sure of and gives up (None,
"parse it") on anything else: an entry without an id of its own, entries
outside their container, ids in foreign namespaces, markup or attributes on
an id, an xml:base, and text feedparser rewrites (C1 characters, Latin-1
that reads as UTF-8, "scheme:///"). tests/test_scan_parse_agree.py holds
the two to that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import fromstring as fast_fromstring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from .errors import PermanentError
from .ids import YOUTUBE_NS, external_id

ATOM = "{http://www.w3.org/2005/Atom}"
YT = "{" + YOUTUBE_NS + "}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"
# Local names feedparser treats as an entry, or reads an entry's id or link from.
_ENTRY_NAMES = ("item", "entry")
_ID_NAMES = ("id", "guid", "videoid")
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
# Text feedparser rewrites: C1 characters (mapped to cp1252's), and a URI
# with extra slashes after "scheme://" (which it collapses).
_C1 = re.compile(r"[\x80-\x9f]")
_SLASHES = re.compile(r"[A-Za-z][A-Za-z0-9+-.]*:///")


class _Unsure(Exception):
    """Raised when an entry's shape is one the scan cannot vouch for."""


def scan_ids(body: bytes) -> list[str] | None:
    """Return the entry ids of a feed in document order.

    Returns:
        The ids, possibly empty; None when the body is not well-formed XML,
        not a feed we know, or has an entry whose id only feedparser can
        tell, so the caller falls back to a full parse.

    Raises:
        PermanentError: the body declares XML entities, which no feed needs
            and an expansion bomb does.
    """
    try:
        root = _parse(body)
    except DefusedXmlException as exc:
        raise PermanentError(f"refused: the feed declares XML entities ({exc})") from None
    except (ParseError, ValueError, LookupError):
        # LookupError: an encoding Python does not know; feedparser guesses one.
        return None
    read: Callable[[Element], str]
    if root.tag == ATOM + "feed":
        entries, read = root.findall(ATOM + "entry"), _atom_id
    elif root.tag == "rss":
        entries, read = root.findall("channel/item"), _rss_id
    elif root.tag == RDF + "RDF":
        entries, read = root.findall(RSS1 + "item"), _rdf_id
    else:
        return None
    # feedparser takes an item or entry wherever it stands, and resolves ids
    # and links against an xml:base.
    elements = list(root.iter())
    if sum(1 for e in elements if _local(e.tag) in _ENTRY_NAMES) != len(entries):
        return None
    if any(_XML_BASE in e.attrib for e in elements):
        return None
    try:
        return [read(entry) for entry in entries]
    except _Unsure:
        return None


def _parse(body: bytes) -> Element:
    """Parse `body` with the C parser when it cannot declare anything, else defused.

    defusedxml's parser is ElementTree's pure-Python one (it needs expat's
    DTD handlers), three times slower than the C one on a YouTube feed. A
    DTD, and so an entity, starts with "<!"; a body that has none, in UTF-8
    or ASCII as its declaration says (or as XML assumes with none), declares
    nothing, and the C parser reads it to the same tree. Anything else
    (comments and CDATA start with "<!" too, other encodings) goes through
    defusedxml as before.
    """
    if b"<!" not in body and b"\0" not in body and _PLAIN_START.match(body):
        return fast_fromstring(body)
    return fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)


# An optional UTF-8 BOM and XML declaration (version, UTF-8 or ASCII, standalone),
# then the root element: no processing instruction, no DOCTYPE.
_PLAIN_START = re.compile(
    rb"(\xef\xbb\xbf)?"
    rb"(<\?xml\s+version\s*=\s*[\"']1\.[0-9][\"']"
    rb"(\s+encoding\s*=\s*[\"'](utf-8|us-ascii)[\"'])?"
    rb"(\s+standalone\s*=\s*[\"'](yes|no)[\"'])?\s*\?>)?"
    rb"\s*<[^?!]",
    re.IGNORECASE,
)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def _named(entry: Element, names: tuple[str, ...]) -> list[Element]:
    return [e for e in entry.iter() if e is not entry and _local(e.tag) in names]


def _text(element: Element) -> str:
    if len(element):  # feedparser would read the markup inside too
        raise _Unsure
    if set(element.attrib) - {"isPermaLink"}:  # mode="base64", type=…: feedparser's call
        raise _Unsure
    return _checked(element.text or "")


def _checked(raw: str) -> str:
    """Return the stored form of ``raw``, unless feedparser would rewrite it."""
    raw = raw.strip()
    if _C1.search(raw) or _SLASHES.match(raw) or _looks_like_mojibake(raw):
        raise _Unsure
    return external_id(raw)


def _looks_like_mojibake(text: str) -> bool:
    # feedparser "repairs" Latin-1 text that is valid UTF-8 once re-encoded.
    if text.isascii():
        return False
    try:
        text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


def _only(entry: Element, names: tuple[str, ...], tag: str) -> Element | None:
    """Return the one element of ``names`` in ``entry``, which must be ``tag``."""
    found = _named(entry, names)
    if not found:
        return None
    if len(found) != 1 or found[0].tag != tag or found[0] not in list(entry):
        raise _Unsure
    return found[0]


def _atom_id(entry: Element) -> str:
    found = _named(entry, _ID_NAMES)
    tags = sorted(e.tag for e in found)
    if tags == [YT + "videoId"] or tags == sorted([YT + "videoId", ATOM + "id"]):
        element = entry.find(YT + "videoId")
    elif tags == [ATOM + "id"]:
        element = entry.find(ATOM + "id")
    else:
        raise _Unsure  # no id (feedparser falls back to the link), or several
    if element is None or not (value := _text(element)):
        raise _Unsure
    return value


def _rss_id(item: Element, guid: str = "guid", link: str = "link") -> str:
    element = _only(item, _ID_NAMES, guid)
    if element is None:
        element = _only(item, ("link",), link)
    if element is None:
        element = _only(item, ("enclosure",), "enclosure")
        value = _checked(element.get("url", "")) if element is not None else ""
    else:
        value = _text(element)
    if not value:
        raise _Unsure
    return value


def _rdf_id(item: Element) -> str:
    about = _checked(item.get(RDF + "about", ""))
    if about and not _named(item, _ID_NAMES):
        return about
    if about:
        raise _Unsure
    return _rss_id(item, guid=RSS1 + "guid", link=RSS1 + "link")
