"""/docs and /redoc work offline: every asset they load is served by this app, none from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.runtime import Runtime

ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""")
SPEC_URL = re.compile(r"""url:\s*'([^']+)'""")


def _keyed(runtime: Runtime) -> Runtime:
    server = runtime.settings.server.model_copy(update={"api_key": "s3cret-key"})
    return Runtime(**{**runtime.__dict__, "settings": runtime.settings.model_copy(update={"server": server})})


def _server_app(runtime: Runtime) -> FastAPI:
    import qa.server

    return qa.server.create_server_app(runtime)


@pytest.fixture(
    params=[
        pytest.param((lambda rt: create_app(rt), {}), id="api"),
        pytest.param((lambda rt: create_app(_keyed(rt)), {"authorization": "Bearer s3cret-key"}), id="api-with-key"),
        pytest.param((_server_app, {}), id="api-with-chat-mounted"),
    ]
)
def client(request: pytest.FixtureRequest, runtime: Runtime) -> Iterator[TestClient]:
    make, headers = request.param
    with TestClient(make(runtime), headers=headers) as c:
        yield c


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/static-offline-docs/swagger-ui.css"])
def test_docs_need_the_key_when_one_is_set(runtime: Runtime, path: str) -> None:
    with TestClient(create_app(_keyed(runtime))) as c:
        assert c.get(path).status_code == 401


def _local_urls(html: str) -> list[str]:
    urls = ASSET.findall(html) + SPEC_URL.findall(html)
    assert urls, html
    outside = [u for u in urls if not u.startswith("/") or u.startswith("//")]
    assert outside == [], f"the page loads from other hosts: {outside}"
    assert not re.search(r"https?://", html), "no absolute URL at all in the page"
    return urls


def test_swagger_ui_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = _local_urls(page.text)
    assert "/openapi.json" in urls
    js = [u for u in urls if u.endswith(".js")]
    css = [u for u in urls if u.endswith(".css")]
    assert len(js) == 1 and len(css) == 1, urls
    script = client.get(js[0])
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
    # Swagger UI 4 cannot render FastAPI's OpenAPI 3.1 schemas; the bundle must be 5.x.
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.', script.text)
    assert version is not None and int(version.group(1)) >= 5
    style = client.get(css[0])
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert ".swagger-ui" in style.text
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_redoc_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/redoc")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = _local_urls(page.text)
    assert "/openapi.json" in urls
    js = [u for u in urls if u.endswith(".js")]
    assert len(js) == 1, urls
    script = client.get(js[0])
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "Redoc" in script.text[:2000]
    # The bundle always draws a logo from cdn.redoc.ly; the page forbids images from elsewhere.
    assert "img-src 'self' data:" in page.headers["content-security-policy"]
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_docs_assets_are_not_in_the_schema(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert all(p.startswith(("/api/", "/v1/")) for p in paths), paths
