"""A yt-dlp extractor for the tests: the fake YouTube's watch pages, with their metadata.

yt-dlp loads it when ``tests/support/ytdlp_watch_plugins`` is on PYTHONPATH
(`tests.support.playlists.use_watch_pages`). ``/watch?v=ID`` then gives what
YouTube's extractor gives for that upload of a `KindedChannel`: its
``live_status``, ``release_timestamp``, ``media_type`` and ``availability``
(read from the fake's ``/meta/ID``). An upcoming one has no formats: yt-dlp
fails with "Premieres in …" as it does for YouTube, and with
``--ignore-no-formats-error`` prints the metadata instead.
"""

import time

from yt_dlp.extractor.common import InfoExtractor


class TubepollerWatchIE(InfoExtractor):
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/watch\?v=(?P<id>[\w-]{11})$"

    def _real_extract(self, url):
        video_id = self._match_id(url)
        base = url.split("/watch?", 1)[0]
        meta = self._download_json(f"{base}/meta/{video_id}", video_id)
        info = {key: value for key, value in meta.items() if value is not None}
        info.update(id=video_id, title=video_id, webpage_url=url)
        if meta.get("live_status") == "is_upcoming":
            hours = max(1, round(((meta.get("release_timestamp") or 0) - time.time()) / 3600))
            self.raise_no_formats(
                f"Premieres in {hours} hour{'s' if hours > 1 else ''}",
                expected=True,
                video_id=video_id,
            )
            return info
        media = f"{base}/watch?v={video_id}&media=1"
        info["formats"] = [{"url": media, "ext": "mp4", "format_id": "mp4"}]
        return info
