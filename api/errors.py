"""Map tubepoller's errors to HTTP answers, once, and always answer JSON.

Resources raise `falcon.HTTP*` for HTTP-level problems and let the domain's
own errors (`poller.errors`), the broker's and the database's propagate;
the handlers here turn those into statuses so no resource repeats it.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import falcon
from dramatiq.errors import BrokerError
from peewee import OperationalError

from poller.errors import (
    AlreadyExists,
    NotFound,
    TubepollerError,
    UnknownEvent,
    UnknownKind,
    UnusableURL,
)

log = logging.getLogger("api")

RETRY_AFTER_S = 5  # a hint to clients after a 503; the broker reconnects in ~3 s


def register(app: falcon.App) -> None:
    """Install the error serializer and the domain error handlers on `app`."""
    app.set_error_serializer(serialize)
    app.add_error_handler(TubepollerError, _unprocessable)
    app.add_error_handler(UnusableURL, _unusable_url)
    app.add_error_handler(UnknownEvent, _unknown_event)
    app.add_error_handler(UnknownKind, _unknown_kind)
    app.add_error_handler(NotFound, _not_found)
    app.add_error_handler(AlreadyExists, _conflict)
    app.add_error_handler(BrokerError, _broker_down)
    app.add_error_handler(OperationalError, _database_down)


def serialize(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Write an error as JSON ``{"title", "description"}`` whatever the client accepts.

    Falcon would pick XML for a client that prefers it; an API that speaks
    only JSON should not change shape on an Accept header.
    """
    body = error.to_dict()
    if body.get("description") is None:  # Falcon's own 404/405 come without one
        body["description"] = _standard_description(error)
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(body)


def _standard_description(error: falcon.HTTPError) -> str:
    try:
        return HTTPStatus(error.status_code).description
    except ValueError:
        return error.title or ""


def _unprocessable(req: Any, resp: Any, error: TubepollerError, params: Any) -> None:
    raise falcon.HTTPUnprocessableEntity(title="Unprocessable request", description=str(error))


def _unusable_url(req: Any, resp: Any, error: UnusableURL, params: Any) -> None:
    raise falcon.HTTPBadRequest(title="Unusable URL", description=str(error))


def _unknown_event(req: Any, resp: Any, error: UnknownEvent, params: Any) -> None:
    raise falcon.HTTPBadRequest(title="Unknown event", description=str(error))


def _unknown_kind(req: Any, resp: Any, error: UnknownKind, params: Any) -> None:
    raise falcon.HTTPBadRequest(title="Invalid include", description=str(error))


def _not_found(req: Any, resp: Any, error: NotFound, params: Any) -> None:
    raise falcon.HTTPNotFound(description=str(error))


def _conflict(req: Any, resp: Any, error: AlreadyExists, params: Any) -> None:
    raise falcon.HTTPConflict(title="Already exists", description=str(error))


def _broker_down(req: Any, resp: Any, error: BrokerError, params: Any) -> None:
    log.warning("api: %s %s: broker unavailable: %s", req.method, req.path, error)
    raise falcon.HTTPServiceUnavailable(
        description=f"the message broker is unavailable, try again shortly ({error})",
        retry_after=RETRY_AFTER_S,
    )


def _database_down(req: Any, resp: Any, error: OperationalError, params: Any) -> None:
    log.warning("api: %s %s: database error: %s", req.method, req.path, error)
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "no such table" in reason or "does not exist" in reason:
        reason += "; run `tubepoller db init`"
    raise falcon.HTTPServiceUnavailable(
        description=f"the database is unavailable, try again shortly ({reason})",
        retry_after=RETRY_AFTER_S,
    )
