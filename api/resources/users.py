"""/api/users: the admin's user management (list, create, delete, rotate a token)."""

from __future__ import annotations

from typing import Any

import falcon

from ..auth import require_admin
from ..bodies import read_json
from ..schemas import CREATE_USER

MANAGE = "manage users"


class Users:
    """Users and their tokens; every responder answers 403 unless the caller is an admin.

    A token is shown once, when it is made; only its hash is stored, so a
    rotated token stops working as soon as the new one is returned.

    Args:
        services: the app's `Services`: listings, users, subscriptions, clock.
    """

    def __init__(self, services: Any) -> None:
        self.listings = services.listings
        self.users = services.users
        self.subscriptions = services.subscriptions
        self.clock = services.clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require_admin(req, MANAGE)
        resp.media = {"items": self.listings.users()}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        require_admin(req, MANAGE)
        body = read_json(req, CREATE_USER)
        user, token = self.subscriptions.add_user(
            body["name"], self.clock(), admin=body.get("admin", False)
        )
        resp.status = falcon.HTTP_201
        resp.location = f"/api/users/{user.name}"
        resp.media = {**self.listings.user_json(user), "token": token}

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        require_admin(req, MANAGE)
        self.users.remove_user(name)
        resp.status = falcon.HTTP_204

    def on_post_token(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        require_admin(req, MANAGE)
        token = self.users.rotate_token(name)
        (user,) = self.listings.users(name)
        resp.media = {**user, "token": token}
