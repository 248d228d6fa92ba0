"""Pull entry ids out of a feed body cheaply, before any real parse.

Most polls find nothing new; an ElementTree pass costs well under a
millisecond where feedparser costs ~20 ms, so we parse only what is unseen.
The ids must equal the ones `parse.entry_id` derives from feedparser's view.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from .errors import PermanentError

ATOM = "{http://www.w3.org/2005/Atom}"
YT = "{http://www.youtube.com/xml/schemas/2015}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"


def scan_ids(body: bytes) -> list[str] | None:
    """Return the entry ids of a feed in document order.

    Returns:
        The ids, possibly empty; None when the body is not well-formed XML
        or not a feed we know, so the caller falls back to a full parse.

    Raises:
        PermanentError: the body declares XML entities, which no feed needs
            and an expansion bomb does.
    """
    try:
        root = fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise PermanentError(f"refused: the feed declares XML entities ({exc})") from None
    except (ParseError, ValueError):
        return None
    if root.tag == ATOM + "feed":
        return [i for i in map(_atom_id, root.iterfind(ATOM + "entry")) if i]
    if root.tag == "rss":
        return [i for i in map(_rss_id, root.iterfind("channel/item")) if i]
    if root.tag == RDF + "RDF":
        return [i for i in map(_rdf_id, root.iterfind(RSS1 + "item")) if i]
    return None


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _atom_id(entry: Element) -> str:
    return _text(entry.find(YT + "videoId")) or _text(entry.find(ATOM + "id"))


def _rss_id(item: Element) -> str:
    enclosure = item.find("enclosure")
    return (
        _text(item.find("guid"))
        or _text(item.find("link"))
        or (enclosure.get("url", "").strip() if enclosure is not None else "")
    )


def _rdf_id(item: Element) -> str:
    return item.get(RDF + "about", "").strip() or _text(item.find(RSS1 + "link"))
