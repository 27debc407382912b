"""/docs and /redoc work without the Internet: Swagger UI's and ReDoc's files come from this server (the
installed fastapi-offline package), every other host is blocked, and the API's operations are listed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def _offline(page: Any, live_server: str) -> list[str]:
    """Block every request to another host; the list of those asked for."""
    here = urlsplit(live_server).netloc
    outside: list[str] = []

    def only_here(route: Any) -> None:
        if urlsplit(route.request.url).netloc == here or route.request.url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            outside.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()
    page.route("**/*", only_here)
    return outside


def test_redoc_renders_offline(page: Any, live_server: str) -> None:
    outside = _offline(page, live_server)
    page.goto("/redoc")
    page.wait_for_selector("h1", timeout=60_000)
    assert "县级农产品质量安全检测 LIMS" in page.inner_text("h1")
    assert "/api/v1/samples" in page.inner_text("body")
    # only ReDoc's "API docs by Redocly" logo comes from its vendor's site: blocked, the page works without it
    assert all(x.startswith("image ") for x in outside), f"/redoc asked other hosts for {outside}"


def test_swagger_ui_renders_with_every_outside_request_blocked(page: Any, live_server: str) -> None:
    outside = _offline(page, live_server)
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "县级农产品质量安全检测 LIMS" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.startswith("/api/v1/samples") for p in paths) and len(paths) > 50
    assert not outside, f"/docs asked other hosts for {outside}"
