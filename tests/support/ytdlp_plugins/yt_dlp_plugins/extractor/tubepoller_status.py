"""A yt-dlp extractor for the tests: the page at ``/status/<id>`` says why there is no video.

yt-dlp loads it when ``tests/support/ytdlp_plugins`` is on PYTHONPATH (a namespace package
``yt_dlp_plugins``). The page's text becomes the extractor's error, as YouTube's refusal
becomes the youtube extractor's, so yt-dlp itself prints ``ERROR: [TubepollerStatus] <id>:
<text>`` exactly as it prints "Private video" or "Premieres in 3 hours".
"""

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError, InAdvancePagedList


class TubepollerStatusIE(InfoExtractor):
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/status/(?P<id>[\w-]+)"

    def _real_extract(self, url):
        video_id = self._match_id(url)
        text = self._download_webpage(url, video_id).strip()
        if text.startswith("WARNING "):
            self.report_warning(text.removeprefix("WARNING "), video_id)
            text = "ok"
        if text != "ok":
            raise ExtractorError(text, expected=True, video_id=video_id)
        return {
            "id": video_id,
            "title": video_id,
            "url": url.replace("/status/", "/media/") + ".mp4",
            "ext": "mp4",
        }


class TubepollerStatusListIE(InfoExtractor):
    """``/statuslist/<id>``: a listing, one entry a line; a line ``ERROR <text>`` fails its entry.

    Entries are fetched lazily, one a page, as YouTube's tabs are: a failing one is the
    error yt-dlp meets in the middle of a real channel listing.
    """

    _VALID_URL = r"https?://127\.0\.0\.1:\d+/statuslist/(?P<id>[\w-]+)"

    def _real_extract(self, url):
        list_id = self._match_id(url)
        lines = self._download_webpage(url, list_id).split("\n")
        base = url.split("/statuslist/")[0]

        def page(n):
            if n >= len(lines) or not lines[n].strip():
                return
            line = lines[n].strip()
            if line.startswith("ERROR "):
                raise ExtractorError(line.removeprefix("ERROR "), expected=True)
            yield self.url_result(f"{base}/status/{line}", TubepollerStatusIE, line, line)

        return self.playlist_result(InAdvancePagedList(page, len(lines), 1), list_id, list_id)
