"""Build the Falcon WSGI app; `api.asgi` serves it under gunicorn.

The app reads through the read layer (`poller.listings`), writes through
`poller`'s writers and sends work to the actors' queues; it never polls or
downloads inside a request (`?wait` only waits for a worker to do it). Its
resources receive these collaborators (`Services`), so a test can build the
app with fakes and no broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import falcon
from falcon.constants import COMBINED_METHODS
from peewee import DatabaseError

from poller import config
from poller.config import Settings

from . import errors, openapi
from .auth import Authenticate, CookieSessions
from .middleware import BodyLimit, DatabaseSession
from .resources.channels import Channels
from .resources.docs import ApiReference, OpenAPIDocument
from .resources.events import Events
from .resources.health import Health
from .resources.history import ChannelPolls
from .resources.imports import Imports
from .resources.metrics import Metrics
from .resources.notifications import Notifications
from .resources.page import SignIn, StatusPage
from .resources.page_actions import PageActions
from .resources.polls import Polls
from .resources.users import Users
from .resources.videos import Downloads, Videos
from .resources.websub import WebSubCallback
from .routes import ROUTES, IdConverter, Route
from .session import Signer
from .waiting import PROCESS_SLOTS, WaitSlots


@dataclass(frozen=True)
class Services:
    """What the API's resources call into.

    Attributes:
        settings: the configuration the writers and the queues read.
        listings: the read layer, every listing and detail (`poller.listings`).
        subscriptions: subscribe, set_mode, pause, resume, unsubscribe, add_user
            (`poller.subscriptions`).
        downloads: `request(video_id, now)` marks a video wanted (`poller.media`).
        queues: sends polls, through the claim, and downloads (`poller.queues.Queues`).
        database: `connect()` and `release()` the request thread's
            connection (`poller.database`).
        health: returns the state of the database and the broker.
        metrics: returns the Prometheus exposition and its content type.
        queue_depths: returns the messages waiting in each queue (the status page).
        imports: reads OPML and subscriptions.csv files and subscribes from
            them (`poller.imports`).
        clock: the time now, in epoch seconds.
        waits: the caps on long-polls in flight (`api.waiting.WaitSlots`).
        users: remove_user, rotate_token (`poller.users`); None: no user management.
        websub: WebSub verifications and pushes (`poller.websub_store`).
        notifications: add_target (checked with Apprise) and remove_target
            (`poller.notify`).
    """

    settings: Settings
    listings: Any
    subscriptions: Any
    downloads: Any
    queues: Any
    database: Any
    health: Callable[[], dict[str, Any]]
    metrics: Callable[[], tuple[bytes, str]] = lambda: (b"", "text/plain")
    queue_depths: Callable[[], dict[str, int]] = dict
    imports: Any = None
    clock: Callable[[], float] = time.time
    waits: WaitSlots = field(default_factory=lambda: PROCESS_SLOTS)
    users: Any = None
    websub: Any = None
    notifications: Any = None

    @classmethod
    def of_poller(cls, settings: Settings) -> Services:
        """Return the real services, on the broker `poller.actors` declares.

        Building them connects nothing; the database must be open (`open_database`).
        """
        from poller import (
            actors,
            database,
            downloads,
            imports,
            listings,
            metrics,
            notify,
            subscriptions,
            users,
            websub_store,
        )
        from poller.broker import broker_state, queue_depths
        from poller.queues import Queues

        def health() -> dict[str, Any]:
            state: dict[str, Any] = {
                "database": database.database_state(),
                "broker": broker_state(actors.broker),
            }
            # A paused host is the platform refusing us, not the service down:
            # it is shown, and the answer stays 200.
            state["hosts"] = []
            if state["database"] == "ok":
                try:
                    state["hosts"] = listings.hosts(time.time())
                    state["push"] = {"enabled": settings.push, **websub_store.counts()}
                except DatabaseError as exc:  # a schema from before hosts: db init adds them
                    state["database"] = f"error: {database.one_line(exc)}"
            return state

        def channel_health() -> dict[str, int]:
            # Channels whose push is trusted, beside ok / failing / paused.
            return {**listings.health_counts(), "push": websub_store.counts()["healthy"]}

        def host_states() -> dict[str, int]:
            listed = listings.hosts(time.time())
            paused = sum(1 for h in listed if h["paused"])
            degraded = sum(1 for h in listed if h["degraded"] and not h["paused"])
            return {"paused": paused, "degraded": degraded, "ok": len(listed) - paused - degraded}

        def exposition() -> tuple[bytes, str]:
            return metrics.exposition(
                channel_health, lambda: queue_depths(actors.broker), host_states
            )

        return cls(
            settings=settings,
            listings=listings,
            subscriptions=subscriptions,
            downloads=downloads,
            queues=Queues.of_actors(settings),
            database=database,
            health=health,
            metrics=exposition,
            queue_depths=lambda: queue_depths(actors.broker),
            imports=imports,
            users=users,
            websub=websub_store,
            notifications=notify,
        )


def create_app(settings: Settings | None = None, services: Services | None = None) -> falcon.App:
    """Return the API as a WSGI app.

    Args:
        settings: the configuration. None is the process's entry point
            (gunicorn's ``create_app()``): read TUBEPOLLER_* and open the
            database they name. A caller that passes settings has opened
            the database itself (`tubepoller up`, the tests).
        services: the collaborators; None builds the real ones
            (`Services.of_poller`).
    """
    if settings is None:
        from poller import metrics
        from poller.database import open_database

        settings = config.get()
        open_database(settings.database_url)
        metrics.use_directory(settings.metrics_dir)  # gunicorn's workers add up as one
    if services is None:
        services = Services.of_poller(settings)
    signer = Signer(services.settings.data_dir)  # reads or makes its key on first use
    resources: dict[str, Any] = {
        "health": Health(services.health),
        "metrics": Metrics(services.metrics),
        "openapi": OpenAPIDocument(openapi.document(ROUTES)),
        "docs": ApiReference(),
        "channels": Channels(services),
        "polls": Polls(services),
        "videos": Videos(services.listings),
        "downloads": Downloads(services),
        "events": Events(services),
        "imports": Imports(services),
        "history": ChannelPolls(services.listings),
        "users": Users(services),
        "websub": WebSubCallback(services),
        "notifications": Notifications(services),
        "page": StatusPage(services, signer),
        "signin": SignIn(services, signer),
        "page_actions": PageActions(services, signer),
    }
    middleware: list[Any] = [
        BodyLimit(),
        DatabaseSession(services.database),
        Authenticate(
            services.listings.user_for_token,
            CookieSessions(signer, services.listings.user_by_id, services.clock),
        ),
    ]
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


def _check_responders(resource: Any, route: Route) -> None:
    """Refuse to start when a resource serves other methods than its route lists."""
    suffix = f"_{route.suffix}" if route.suffix else ""
    served = {m for m in COMBINED_METHODS if hasattr(resource, f"on_{m.lower()}{suffix}")}
    if served != set(route.methods):
        raise RuntimeError(
            f"{route.template}: {type(resource).__name__} serves {sorted(served)}, "
            f"the route table lists {sorted(route.methods)}"
        )
