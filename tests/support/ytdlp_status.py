"""Real yt-dlp errors on loopback: the test extractors in ``ytdlp_plugins``.

`use_status_pages` puts the plugin directory on PYTHONPATH, which every yt-dlp (and worker)
process the test starts inherits. Then, on the feed server, ``/status/<id>`` is a video whose
page text is the error yt-dlp reports for it ("Private video", "Premieres in 3 hours"; "ok"
gives a video whose media is ``/media/<id>.mp4``), and ``/statuslist/<id>`` is a listing of
such videos, one a line, where a line ``ERROR <text>`` makes that entry fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent / "ytdlp_plugins"


def plugin_path(environ: dict[str, str] | os._Environ[str]) -> str:
    """Return ``environ``'s PYTHONPATH with the plugin directory first."""
    return os.pathsep.join(p for p in (str(PLUGINS), environ.get("PYTHONPATH", "")) if p)


def use_status_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let yt-dlp processes this test starts load the status extractors."""
    monkeypatch.setenv("PYTHONPATH", plugin_path(os.environ))
