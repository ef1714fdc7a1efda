"""The login page of the web chat: asks for the API key once and keeps it for the browser session.

The key is checked here and exchanged for an HttpOnly, SameSite=Strict session cookie (an HMAC
of the key, see ``qa.api.guard``), which the guard accepts on every path, Gradio's included.
"""

from __future__ import annotations

import hmac
import html
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qa.api.guard import LOGIN_PATH, SESSION_COOKIE, session_token

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>qa: sign in</title>
<style>
body {{ font-family: ui-sans-serif, system-ui, sans-serif; display: grid; place-items: center; min-height: 90vh; margin: 0; }}
form {{ display: grid; gap: 0.75em; width: min(22em, 90vw); }}
input, button {{ font: inherit; padding: 0.5em 0.7em; border-radius: 6px; border: 1px solid #9ca3af; }}
button {{ background: #f97316; color: white; border: none; cursor: pointer; }}
.error {{ color: #b91c1c; }}
</style></head>
<body><form method="post" action="{action}">
<h1>Ask the documents</h1>
<label for="qa-key">This server needs its API key.</label>
<input id="qa-key" name="key" type="password" autocomplete="current-password" autofocus required>
<input type="hidden" name="next" value="{next}">
{error}<button type="submit">Sign in</button>
</form></body></html>
"""


def safe_next(target: str | None) -> str:
    """Return a same-site path to go to after signing in ("/" for anything else, so the page is no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def login_page(next_path: str, error: str = "") -> str:
    """Return the sign-in form; any error is shown as text."""
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>\n' if error else ""
    return PAGE.format(action=LOGIN_PATH, next=html.escape(safe_next(next_path), quote=True), error=shown)


def router(api_key: str) -> APIRouter:
    """Return GET/POST /login and GET /logout for a server that requires ``api_key``."""
    r = APIRouter(include_in_schema=False)
    token = session_token(api_key)

    @r.get(LOGIN_PATH)
    def form(next: str = "/") -> HTMLResponse:  # noqa: A002 - the query parameter's name
        return HTMLResponse(login_page(next))

    @r.post(LOGIN_PATH)
    async def sign_in(request: Request) -> Response:
        data = await request.form()
        key, target = str(data.get("key") or ""), safe_next(str(data.get("next") or "/"))
        if not hmac.compare_digest(key.encode("utf-8", "replace"), api_key.encode("utf-8")):
            return HTMLResponse(login_page(target, "That is not the key. Try again."), status_code=401)
        response = RedirectResponse(target, status_code=303)
        secure = request.url.scheme == "https"
        # No max-age: the browser forgets the session when it closes.
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")
        return response

    @r.get("/logout")
    def sign_out() -> RedirectResponse:
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return r
