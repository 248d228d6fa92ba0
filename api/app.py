"""Build the Falcon WSGI app: `gunicorn 'api.app:create_app()'`.

The app enqueues work on the broker `poller.actors` builds and reads and
writes the catalog through `poller`; it never polls or downloads inside a
request (`?wait` only waits for a worker to do it).
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import falcon
from falcon.constants import COMBINED_METHODS
from peewee import Database

from poller import config
from poller.config import Settings
from poller.database import open_database
from poller.models import db

from . import errors, openapi
from .auth import Authenticate
from .middleware import BodyLimit, DatabaseSession
from .resources.channels import Channels
from .resources.docs import OpenAPIDocument
from .resources.events import Events
from .resources.health import Health
from .resources.polls import Polls
from .resources.videos import Downloads, Videos
from .routes import ROUTES, IdConverter, Route

# The URL and Database object this module last bound the model proxy to.
_bound: tuple[str, Database | None] | None = None


def create_app(settings: Settings | None = None) -> falcon.App:
    """Return the API as a WSGI app.

    Args:
        settings: the configuration; None reads TUBEPOLLER_* (`config.get()`).
            The broker is built from `config.get()` when `poller.actors` is
            first imported, so a caller with its own settings should also
            `config.override()` them first.
    """
    settings = settings if settings is not None else config.get()
    actors = _bind(settings.database_url)
    clock = time.time
    resources: dict[str, Any] = {
        "health": Health(actors.broker),
        "openapi": OpenAPIDocument(openapi.document(ROUTES)),
        "channels": Channels(settings, actors.poll_channel, clock),
        "polls": Polls(settings, actors.poll_channel, clock),
        "videos": Videos(),
        "downloads": Downloads(actors.download_video, clock),
        "events": Events(),
    }
    middleware: list[Any] = [BodyLimit(), DatabaseSession(), Authenticate()]
    app = falcon.App(middleware=middleware)
    app.router_options.converters["id"] = IdConverter
    errors.register(app)
    for route in ROUTES:
        resource = resources[route.resource]
        _check_responders(resource, route)
        if route.suffix:
            app.add_route(route.template, resource, suffix=route.suffix)
        else:
            app.add_route(route.template, resource)
    return app


def _bind(url: str) -> ModuleType:
    """Import the actors (building the broker) and bind the models to `url`.

    Importing `poller.actors` the first time opens config.get()'s database;
    `tubepoller up` imports it before serving, and its workers hold
    connections on that database object. Rebinding the proxy under them
    would strand those connections, so an app for the same URL reuses it.
    """
    global _bound
    from poller import actors  # here, not at the top: importing api builds no broker

    if _bound is None:
        _bound = (actors.SETTINGS.database_url, db.obj)
    if db.obj is None or _bound != (url, db.obj):
        _bound = (url, open_database(url))
    return actors


def _check_responders(resource: Any, route: Route) -> None:
    """Refuse to start when a resource serves other methods than its route lists."""
    suffix = f"_{route.suffix}" if route.suffix else ""
    served = {m for m in COMBINED_METHODS if hasattr(resource, f"on_{m.lower()}{suffix}")}
    if served != set(route.methods):
        raise RuntimeError(
            f"{route.template}: {type(resource).__name__} serves {sorted(served)}, "
            f"the route table lists {sorted(route.methods)}"
        )
