"""/api/notifications: the caller's notification targets (Apprise URLs) and their deliveries."""

from __future__ import annotations

from typing import Any

import falcon

from ..auth import current_user
from ..bodies import read_json
from ..schemas import ADD_TARGET


class Notifications:
    """Add, list and remove the caller's notification targets.

    Args:
        services: the app's `Services`: listings, notifications (the writers), clock.
    """

    def __init__(self, services: Any) -> None:
        self.listings = services.listings
        self.notifications = services.notifications
        self.clock = services.clock
        self.settings = services.settings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"items": self.listings.notification_targets(current_user(req))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, ADD_TARGET)
        user = current_user(req)
        target = self.notifications.add_target(
            user, body["url"], body["events"], self.clock(), self.settings
        )
        resp.status = falcon.HTTP_201
        resp.location = f"/api/notifications/{target.id}"
        resp.media = self._shown(user, target.id)

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, target_id: int) -> None:
        self.notifications.remove_target(current_user(req), target_id)
        resp.status = falcon.HTTP_204

    def _shown(self, user: Any, target_id: int) -> dict[str, Any]:
        for item in self.listings.notification_targets(user):
            if item["id"] == target_id:
                return item
        raise falcon.HTTPNotFound(description=f"no notification target {target_id}")
