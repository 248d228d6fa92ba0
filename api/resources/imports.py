"""/api/import: subscribe the caller to every channel of an OPML file or subscriptions.csv."""

from __future__ import annotations

from typing import Any

import falcon

from poller.models import FUTURE_ONLY, MODES

from ..auth import current_user
from ..bodies import read_upload


class Imports:
    """Take the file as the body; answer what was added, already there and refused.

    Entries are resolved and subscribed in chunks (`poller.imports`), so a
    large file holds no lock for long; new channels are due at once and the
    next tick sends their first polls.

    Args:
        services: the app's `Services`: imports, settings, clock.
    """

    def __init__(self, services: Any) -> None:
        self.imports = services.imports
        self.settings = services.settings
        self.clock = services.clock

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = current_user(req)
        mode = req.get_param("mode") or FUTURE_ONLY
        if mode not in MODES:
            raise falcon.HTTPInvalidParam(f"mode is one of {', '.join(MODES)}", "mode")
        listed = self.imports.read_subscriptions(read_upload(req))  # 422 when unreadable
        done = self.imports.import_subscriptions(
            user, listed, self.clock(), self.settings, mode=mode
        )
        resp.media = {
            "added": done.added,
            "already": done.already,
            "refused": [{"url": url, "reason": reason} for url, reason in done.refused],
        }
