"""The one rule for entry ids, feed and catalog alike: clean, and hash when too long.

`Video.external_id` holds 256 characters. Cutting a longer id would make two
guids that share their first 256 characters one video, so a longer id is
replaced by a digest of the whole of it instead: distinct ids stay distinct,
and the same id gives the same key on every poll.
"""

from __future__ import annotations

import hashlib
import re

MAX_ID = 256  # Video.external_id is a CharField(max_length=256)
HASH_PREFIX = "sha1:"
# The namespace of `<yt:videoId>`, the id of an entry of a YouTube feed.
YOUTUBE_NS = "http://www.youtube.com/xml/schemas/2015"
# C0/C1 controls (NUL among them, which PostgreSQL refuses in text) and the
# invisible format characters that would make two equal-looking ids differ.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")


def external_id(raw: str) -> str:
    """Return the stored form of an id ('' when nothing is left).

    Args:
        raw: the id as the feed or yt-dlp gives it.

    Returns:
        ``raw`` without control characters or surrounding space; when that is
        longer than `MAX_ID`, ``sha1:`` and the hex digest of it.
    """
    value = _CONTROL.sub("", raw).strip()
    if len(value) <= MAX_ID:
        return value
    return HASH_PREFIX + hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest()
