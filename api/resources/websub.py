"""/websub/{token}: a hub's callback, its verifications of intent and its pushes."""

from __future__ import annotations

from typing import Any

import falcon

from poller.websub import MAX_PUSH_BYTES


class WebSubCallback:
    """One push subscription's callback; the token in the path names it.

    GET is the hub verifying a request we made: the challenge is echoed only
    when the mode and topic are the ones we asked for, else 404. POST is a
    push: its ``X-Hub-Signature`` must be the body's HMAC under the
    subscription's secret. A push is only a hint: it sends a poll of the
    channel through the claim (a storm of pushes is one poll) and writes no
    video. A bad or missing signature is answered 2xx and dropped, as the
    WebSub recommendation says, so a forger learns nothing.

    Args:
        services: the app's `Services`: websub (`poller.websub_store`),
            queues, settings, clock.
    """

    public = True  # hubs carry no token; the path's token and the signature stand for one

    def __init__(self, services: Any) -> None:
        self.websub = services.websub
        self.queues = services.queues
        self.settings = services.settings
        self.clock = services.clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        params = {name: req.get_param(name) or "" for name in _VERIFY_PARAMS}
        challenge = self.websub.verify(token, params, self.clock(), self.settings)
        if challenge is None:
            raise falcon.HTTPNotFound(description="no such subscription request")
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = challenge

    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = req.bounded_stream.read(MAX_PUSH_BYTES + 1)
        if len(body) > MAX_PUSH_BYTES:
            raise falcon.HTTPContentTooLarge(
                description=f"pushes are limited to {MAX_PUSH_BYTES} bytes"
            )
        now = self.clock()
        channel_id = self.websub.push(token, body, req.get_header("X-Hub-Signature"), now)
        if channel_id is not None:
            self.queues.poll([channel_id], now)
        resp.status = falcon.HTTP_204


_VERIFY_PARAMS = ("hub.mode", "hub.topic", "hub.challenge", "hub.lease_seconds", "hub.reason")
