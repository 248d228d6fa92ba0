"""/api/openapi.json and /api/docs answer without a token; the page loads only local files."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import falcon.testing

from api.resources.docs import ASSETS

ROOT = Path(__file__).resolve().parents[2]


def test_the_openapi_document_needs_no_token(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/api/openapi.json")

    assert result.status_code == 200
    assert result.json["openapi"].startswith("3.1")


def test_the_reference_page_loads_only_files_this_server_serves(
    client: falcon.testing.TestClient,
) -> None:
    page = client.simulate_get("/api/docs")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert linked and all(link.startswith("/api/docs/") for link in linked), linked
    for link in linked:
        asset = client.simulate_get(link)  # no token either
        assert asset.status_code == 200, link
        assert asset.headers["content-type"].startswith(("text/javascript", "text/css")), link
        assert len(asset.content) > 100, link
    script = client.simulate_get("/api/docs/docs.js").text
    assert '"/api/openapi.json"' in script and "validatorUrl: null" in script


def test_an_unknown_asset_is_a_404(client: falcon.testing.TestClient) -> None:
    for path in ("/api/docs/index.html", "/api/docs/..%2Fdocs.html", "/api/docs/LICENSE"):
        assert client.simulate_get(path).status_code == 404, path


def test_the_wheel_carries_the_page_and_its_assets() -> None:
    """Every file the page serves matches the package data pyproject.toml declares."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["api"]
    files = ["docs.html", *(path for path, _ in ASSETS.values()), "swagger-ui/LICENSE"]
    for name in files:
        assert (ROOT / "api" / "static" / name).is_file(), name
        assert any(fnmatch.fnmatch(f"static/{name}", p) for p in patterns), name
