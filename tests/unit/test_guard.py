"""One key for every door: bearer header or login cookie, body limits per route, the login page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.api.guard import SESSION_COOKIE, session_token
from qa.config import Settings
from qa.runtime import Runtime
from tests.fake_runtime import fake_runtime
from ui import login

KEY = "s3cret-key"


@pytest.fixture
def runtime(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> Runtime:
    rt = fake_runtime(settings, ephemeral_client, tmp_path / "docs")
    server = rt.settings.server.model_copy(update={"api_key": KEY})
    limits = rt.settings.limits.model_copy(update={"max_file_bytes": 50_000})
    return Runtime(**{**rt.__dict__, "settings": rt.settings.model_copy(update={"server": server, "limits": limits})})


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime)
    app.include_router(login.router(KEY))
    with TestClient(app, base_url="http://127.0.0.1:7860", follow_redirects=False) as c:
        yield c


def test_the_session_cookie_opens_every_door_and_is_not_the_key(client: TestClient) -> None:
    token = session_token(KEY)
    assert KEY not in token and token != session_token("other-key")
    client.cookies.set(SESSION_COOKIE, token)
    assert client.post("/api/ask", json={"question": "Who is Blinken?"}).status_code == 200
    assert client.get("/docs").status_code == 200
    client.cookies.set(SESSION_COOKIE, session_token("other-key"))
    assert client.get("/docs").status_code == 401


def test_login_sets_an_httponly_session_cookie_and_goes_back(client: TestClient) -> None:
    wrong = client.post("/login", data={"key": "nope", "next": "/docs"})
    assert wrong.status_code == 401 and "That is not the key" in wrong.text and SESSION_COOKIE not in wrong.cookies
    r = client.post("/login", data={"key": KEY, "next": "/docs"})
    assert r.status_code == 303 and r.headers["location"] == "/docs"
    cookie = r.headers["set-cookie"]
    assert f"{SESSION_COOKIE}={session_token(KEY)}" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age" not in cookie
    assert client.get("/docs").status_code == 200, "the cookie is kept and accepted"
    out = client.get("/logout")
    assert out.status_code == 303 and 'qa_session=""' in out.headers["set-cookie"]


def test_a_browser_is_sent_to_login_and_a_machine_gets_401(client: TestClient) -> None:
    page = client.get("/docs?x=1", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fdocs%3Fx%3D1"
    assert client.get("/docs", headers={"accept": "application/json"}).status_code == 401
    assert client.get("/api/passages/x", headers={"accept": "text/html"}).status_code == 401, "API paths never redirect"
    assert client.get("/login?next=/docs").status_code == 200


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/", "/"),
        ("/docs?x=1", "/docs?x=1"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_login_only_goes_back_to_this_site(target: str | None, expected: str) -> None:
    assert login.safe_next(target) == expected


def test_login_page_shows_errors_as_text() -> None:
    page = login.login_page('"><script>x</script>', "<b>bad</b>")
    assert "<script>x" not in page and "&lt;b&gt;bad&lt;/b&gt;" in page


def test_upload_routes_take_files_up_to_max_file_bytes_and_others_max_body_bytes(client: TestClient) -> None:
    auth = {"authorization": f"Bearer {KEY}"}
    # No such route in this app: the guard answers before any route, so 404 means the body was let through.
    assert client.post("/gradio_api/upload", content=b"x" * 40_000, headers=auth).status_code == 404
    big = client.post("/gradio_api/upload", content=b"x" * 50_001, headers=auth)
    assert big.status_code == 413 and "limits.max_file_bytes" in big.json()["detail"]
    # The route itself answers (this runtime has no document writer: 503), so the guard let the body through.
    passed = client.post("/api/documents", content=b"x" * 40_000, headers=auth)
    assert passed.status_code != 413 and "max_file_bytes" not in passed.text
    ask = client.post("/api/ask", content=b"x" * 200_001, headers=auth)
    assert ask.status_code == 413 and "limits.max_body_bytes" in ask.json()["detail"]


def test_the_key_is_checked_before_the_body_is_read(client: TestClient) -> None:
    r = client.post("/gradio_api/upload", content=b"x" * 60_000)
    assert r.status_code == 401, "a stranger's upload is refused by the key, not by its size"
