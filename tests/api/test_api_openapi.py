"""The OpenAPI document describes exactly the routes the app serves."""

from __future__ import annotations

import json
import re
from typing import Any

import falcon
import pytest
from falcon.inspect import inspect_app

from api import app as app_module
from api import openapi
from api.openapi import OPERATIONS
from api.routes import ROUTES, Route
from api.schemas import CHANGE_MODE, SUBSCRIBE
from tests.api.support import Caller


def served(app: falcon.App) -> set[tuple[str, str]]:
    """Return (path, method) for every responder of the app that is not Falcon's own."""
    pairs = set()
    for route in inspect_app(app).routes:
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.path)
        pairs |= {(path, m.method) for m in route.methods if not m.internal}
    return pairs


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_document_lists_every_served_route_and_nothing_else(app: falcon.App) -> None:
    document = openapi.document(ROUTES)

    assert documented(document) == served(app)
    assert len(served(app)) == 36


def test_the_app_serves_the_document_to_a_caller(alice: Caller) -> None:
    result = alice.get("/api/openapi.json")

    assert result.status_code == 200
    assert result.json == json.loads(json.dumps(openapi.document(ROUTES)))
    assert result.json["openapi"].startswith("3.1")


def test_every_reference_resolves_and_every_path_parameter_is_declared() -> None:
    document = openapi.document(ROUTES)
    for ref in refs(document):
        resolve(document, ref)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            declared = {
                resolve(document, p["$ref"])["name"]
                for p in operation["parameters"]
                if resolve(document, p["$ref"])["in"] == "path"
            }
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (path, method)
            assert operation["responses"], (path, method)


def test_the_bodies_validated_are_the_bodies_documented() -> None:
    schemas = openapi.document(ROUTES)["components"]["schemas"]
    assert schemas["Subscribe"] is SUBSCRIBE and schemas["ChangeMode"] is CHANGE_MODE


def test_every_link_names_an_operation() -> None:
    document = openapi.document(ROUTES)
    operations = {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    }
    links = [
        link["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert links and set(links) <= operations
    assert len(operations) == len(OPERATIONS)


def test_only_health_metrics_docs_hub_callbacks_and_the_page_are_public() -> None:
    document = openapi.document(ROUTES)
    public = {
        path
        for path, item in document["paths"].items()
        for operation in item.values()
        if operation.get("security") == []
    }
    assert public == {
        "/api/health",
        "/metrics",
        "/api/openapi.json",
        "/api/docs",
        "/api/docs/{asset}",
        "/websub/{token}",  # a hub carries no token: the path's and the signature stand for one
        "/",  # the status page's sign-in form, its style sheet, signing in
        "/page.css",
        "/signin",
    }


def test_a_route_without_an_operation_is_refused() -> None:
    with pytest.raises(KeyError):
        openapi.document([*ROUTES, Route("/api/extra", "events", ("GET",))])
    with pytest.raises(ValueError, match="without a route"):
        openapi.document(ROUTES[1:])


def test_the_app_refuses_a_resource_that_serves_other_methods() -> None:
    class OnlyGet:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None: ...

    app_module._check_responders(OnlyGet(), Route("/api/x", "x", ("GET",)))
    with pytest.raises(RuntimeError, match="serves"):
        app_module._check_responders(OnlyGet(), Route("/api/x", "x", ("GET", "POST")))
