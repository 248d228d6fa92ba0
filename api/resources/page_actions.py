"""/page/…: the status page's forms: subscribe, mode, unsubscribe, poll now, download.

Each form posts here with the session's CSRF token (checked in `api.auth`),
goes through the same writers and queues as the JSON API, and answers 303
back to the page with a one-line notice of what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon
from dramatiq.errors import BrokerError

from poller.errors import TubepollerError

from ..auth import current_user, form_field
from ..session import Signer
from .channels import first_poll
from .page import MODES, Cookies, see_other
from .videos import request_download


class PageActions:
    """The page's forms, each a POST that ends in a 303 to ``/``.

    Args:
        services: the app's `Services`: listings, subscriptions, downloads,
            queues, clock, settings.
        signer: signs the notice the page shows next.
    """

    cookie_session = "session"

    def __init__(self, services: Any, signer: Signer) -> None:
        self.services = services
        self.listings = services.listings
        self.subscriptions = services.subscriptions
        self.queues = services.queues
        self.clock = services.clock
        self.settings = services.settings
        self.cookies = Cookies(signer)

    def on_post_subscribe(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = current_user(req)
        url = form_field(req, "url").strip()
        mode = form_field(req, "mode") or None

        def subscribe() -> str:
            if not url:
                raise TubepollerError("give the URL of a channel or a feed")
            if mode is not None and mode not in MODES:
                raise TubepollerError(f"the modes are {', '.join(MODES)}")
            now = self.clock()
            result = self.subscriptions.subscribe(user, url, mode, now, self.settings)
            if not result.created:
                return f"Already subscribed to {url}."
            queued = first_poll(self.queues, result.channel.id, now)
            return f"Subscribed to {url}." + (" Its first poll is queued." if queued else "")

        self._act(req, resp, subscribe)

    def on_post_mode(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        mode = form_field(req, "mode")

        def change() -> str:
            if mode not in MODES:
                raise TubepollerError(f"the modes are {', '.join(MODES)}")
            self.subscriptions.set_mode(current_user(req), channel_id, mode)
            return f"Channel {channel_id} is now {mode}."

        self._act(req, resp, change)

    def on_post_unsubscribe(
        self, req: falcon.Request, resp: falcon.Response, channel_id: int
    ) -> None:
        def leave() -> str:
            self.subscriptions.unsubscribe(current_user(req), channel_id)
            return f"Unsubscribed from channel {channel_id}."

        self._act(req, resp, leave)

    def on_post_poll(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        def poll() -> str:
            self.listings.poll_marks(current_user(req), channel_id)  # NotFound unless theirs
            if self.queues.poll([channel_id], self.clock()):
                return f"A poll of channel {channel_id} is queued."
            return f"Channel {channel_id} is already being polled."

        self._act(req, resp, poll)

    def on_post_download(self, req: falcon.Request, resp: falcon.Response, video_id: int) -> None:
        def download() -> str:
            answer = request_download(self.services, current_user(req), video_id)
            if answer["queued"]:
                return f"The download of video {video_id} is queued."
            return f"Video {video_id} is already waiting for its download."

        self._act(req, resp, download)

    def _act(self, req: falcon.Request, resp: falcon.Response, action: Callable[[], str]) -> None:
        """Run a form's action and leave its outcome, or why it failed, as the notice."""
        try:
            text, error = action(), False
        except (TubepollerError, BrokerError) as exc:
            text, error = str(exc), True
        except falcon.HTTPConflict as exc:
            text, error = str(exc.description), True
        self.cookies.notice(req, resp, text, error)
        see_other(resp)
