"""/api/openapi.json: the OpenAPI document."""

from __future__ import annotations

from typing import Any

import falcon


class OpenAPIDocument:
    """Serve the OpenAPI document built once from the route table."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document
