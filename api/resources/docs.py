"""/api/openapi.json and /api/docs: the OpenAPI document and a page that renders it.

Both are public: a reader needs no token to learn what the API offers. The
page is Swagger UI (swagger-ui-dist, vendored in api/static/swagger-ui), so
it works with no internet and loads nothing from a CDN.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import falcon

_STATIC = resources.files("api") / "static"
# The page's assets: name under /api/docs/ → (file under api/static, type).
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", "text/css"),
    "docs.js": ("docs.js", "text/javascript"),
}
CACHE_S = 3600


class OpenAPIDocument:
    """Serve the OpenAPI document built once from the route table."""

    public = True
    uses_database = False

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document


class ApiReference:
    """Serve the browsable API reference page and its vendored assets."""

    public = True
    uses_database = False

    def __init__(self) -> None:
        self.page = (_STATIC / "docs.html").read_bytes()
        self.assets = {
            name: ((_STATIC / path).read_bytes(), media) for name, (path, media) in ASSETS.items()
        }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.data = self.page

    def on_get_asset(self, req: falcon.Request, resp: falcon.Response, asset: str) -> None:
        if asset not in self.assets:
            raise falcon.HTTPNotFound(description=f"no asset {asset!r}")
        resp.data, resp.content_type = self.assets[asset]
        resp.cache_control = ["public", f"max-age={CACHE_S}"]
