"""/docs and /redoc served offline: Swagger UI and ReDoc assets from the installed fastapi-offline package."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse
from fastapi_offline import FastAPIOffline

DOCS_ASSETS = "/static-offline-docs"


def offline_app() -> FastAPI:
    """Return a FastAPI app whose /docs and /redoc load nothing from a CDN."""
    app = FastAPIOffline(
        title="qa answer API",
        version="1",
        summary="Answers from your documents; every answer carries checkable citations.",
        static_url=DOCS_ASSETS,
        redoc_url=None,
    )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        # ReDoc's menu always shows a logo from cdn.redoc.ly: keep the browser from asking for it.
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page

    return app
