"""Auth on every route but the health check; health; the connection per request."""

from __future__ import annotations

import dataclasses
import re
import time

import falcon.testing
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from api.app import create_app
from api.routes import ROUTES
from poller import config, host_store
from poller.broker import broker_state
from poller.models import db
from tests.api.support import Caller
from tests.conftest import RABBITMQ, require_service

PROTECTED = [
    (method, re.sub(r"\{\w+:id\}", "1", route.template))
    for route in ROUTES
    for method in route.methods
    # Public, each tested beside its kind: a hub's callback is named by its token instead,
    # the status page takes its session cookie (tests/api/test_api_page.py).
    if route.resource not in ("health", "openapi", "docs", "metrics", "websub")
    and not route.template.startswith(("/page", "/sign"))
    and route.template != "/"
]


@pytest.mark.parametrize("method, path", PROTECTED)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-token", "Basic YWxpY2U6cHc=", "bearer  "]
)
def test_every_route_but_health_and_docs_needs_a_valid_token(
    client: falcon.testing.TestClient, alice: Caller, method: str, path: str, authorization
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    result = client.simulate_request(method, path, headers=headers, json={})

    assert result.status_code == 401
    assert result.headers["www-authenticate"].startswith("Bearer")
    assert set(result.json) == {"title", "description"}


def test_a_token_works_whatever_the_case_of_bearer(alice: Caller) -> None:
    result = alice.client.simulate_get(
        "/api/channels", headers={"Authorization": f"bearer {alice.token}"}
    )
    assert result.status_code == 200


def test_health_needs_no_token_and_reports_both_parts(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/api/health")

    assert result.status_code == 200
    assert result.json == {
        "database": "ok",
        "broker": "ok (in-process)",
        "hosts": [],
        "push": {
            "enabled": False,
            "subscribed": 0,
            "healthy": 0,
            "requested": 0,
            "failing": 0,
            "dropped_pushes": 0,
        },
    }
    assert result.headers["cache-control"] == "no-store"


def test_health_shows_a_paused_host_and_stays_200(client: falcon.testing.TestClient) -> None:
    now = time.time()
    host_store.pause("www.youtube.com", now, "bot_check: Sign in to confirm", base=900)

    result = client.simulate_get("/api/health")

    assert result.status_code == 200  # the platform refuses us; the service is up
    (host,) = result.json["hosts"]
    assert host["name"] == "www.youtube.com" and host["paused"] and host["state"] == "paused"
    assert host["pause_reason"].startswith("bot_check") and host["paused_until"]


def test_health_is_a_503_naming_the_database_when_it_is_down(settings, tmp_path) -> None:
    # A directory is no SQLite file: every connection fails.
    broken = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path}")
    config.override(broken)
    client = falcon.testing.TestClient(create_app())  # as gunicorn builds it

    health = client.simulate_get("/api/health")
    listing = client.simulate_get("/api/channels", headers={"Authorization": "Bearer x"})

    assert health.status_code == 503
    assert health.json["database"].startswith("error: ")
    assert health.json["broker"] == "ok (in-process)"
    assert listing.status_code == 503 and "database" in listing.json["description"]


def test_health_reports_a_missing_schema(settings, tmp_path) -> None:
    empty = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    config.override(empty)
    client = falcon.testing.TestClient(create_app())

    result = client.simulate_get("/api/health")

    assert result.status_code == 503 and "no such table" in result.json["database"]


def test_an_unreachable_rabbitmq_is_an_error_quickly() -> None:
    broker = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/%2F")
    assert broker_state(broker, timeout=1).startswith("error: ")


@pytest.mark.rabbitmq
def test_a_reachable_rabbitmq_is_ok() -> None:
    require_service("RabbitMQ", RABBITMQ)
    broker = RabbitmqBroker(url=f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/%2F")
    assert broker_state(broker) == "ok"


def test_each_request_closes_its_connection(alice: Caller) -> None:
    db.connect(reuse_if_open=True)
    db.begin()  # left open by a careless caller: rolled back, not committed

    assert alice.get("/api/channels").status_code == 200
    assert db.is_closed()
    assert alice.get("/api/nowhere").status_code == 404
    assert db.is_closed()
