"""/docs and /redoc offline: Swagger UI (5.x, which reads OpenAPI 3.1) and ReDoc served from the files of the
installed ``fastapi-offline`` package (MIT, from PyPI; nothing third-party is committed here) under
``/static/docs``, instead of FastAPI's default links to a CDN — a county lab's network may have no Internet
access. Only the package's static files are used; the app stays a plain FastAPI app."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.security import declare_public, public

#: Where the package's files are served.
ASSETS = "/static/docs"
STATIC = Path(fastapi_offline.__file__).parent / "static"


def install_local_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (with its OAuth2 redirect page) and ``/redoc`` from :data:`ASSETS`; call it on an app
    made with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=str(STATIC)), name="docs-assets")
    declare_public(app, ASSETS)
    title = f"{app.title} — API"
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False, dependencies=[public()])
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=title, oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css", swagger_favicon_url=f"{ASSETS}/favicon.png")

    @app.get("/docs/oauth2-redirect", include_in_schema=False, dependencies=[public()])
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False, dependencies=[public()])
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=title, redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)
