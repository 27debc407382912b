"""/docs offline: Swagger UI's JavaScript and CSS served from the installed ``swagger-ui-bundle`` package
(Apache-2.0, from PyPI; nothing third-party is committed here) under ``/static/swagger-ui``, instead of
FastAPI's default links to a CDN — a county lab's network may have no Internet access. ReDoc has no local
bundle, so it is not served (``FastAPI(redoc_url=None)``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.security import declare_public, public

#: Where the package's files are served.
ASSETS = "/static/swagger-ui"


def install_local_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (and its OAuth2 redirect page) with Swagger UI from :data:`ASSETS`; call it on an
    app made with ``docs_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    declare_public(app, ASSETS)
    title = f"{app.title} — API"

    @app.get("/docs", include_in_schema=False, dependencies=[public()])
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=title,
                                   oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")

    @app.get("/docs/oauth2-redirect", include_in_schema=False, dependencies=[public()])
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
