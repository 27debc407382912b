"""Every link as every role: each demo user signs in and follows the site's links breadth first. Every page
answers without a server error or an in-app 404, is ``<html lang="zh-CN">`` with Chinese on it, and at a
tablet's 768 px and a phone's 390 px its main content does not overflow sideways (wide tables scroll inside
their ``.scroll`` wrapper instead)."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from lims.demo import DEMO_USERS

#: Pages followed per role, and pages per URL shape (digits and record codes folded), so the crawl sees
#: every kind of page without walking every sample of the day.
MAX_PAGES = 90
PER_SHAPE = 2
NARROW_WIDTHS = (768, 390)
#: Links not followed: signing out, the machine-facing API and the OpenAPI pages (tested on their own).
SKIP = re.compile(r"^/(logout|api/|openapi\.json|docs|redoc|hub/)")
#: Links that answer with a file, not a page: fetched, not opened.
FILES = re.compile(r"(\.pdf|\.csv|\.png|\.svg|\.json|/download|/export|/pdf)(\?|$)")
HAN = re.compile(r"[\u4e00-\u9fff]")
LINKS_JS = "() => Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'))"
OVERFLOW_JS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def shape(path_and_query: str) -> str:
    """The kind of page a URL is: numbers and record codes (S20261128-001, EI-01…) folded."""
    path, _, query = path_and_query.partition("?")
    path = re.sub(r"/[^/]*\d[^/]*", "/#", path)
    keys = sorted(k.split("=")[0] for k in query.split("&") if k)
    return path + ("?" + "&".join(keys) if keys else "")


@dataclass
class Crawl:
    base: str
    seen: set[str] = field(default_factory=set)
    shapes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def admit(self, href: str | None, at: str) -> str | None:
        """The same-site path+query of a link worth following, or None."""
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            return None
        url = urlsplit(urljoin(at, href))
        if f"{url.scheme}://{url.netloc}" != self.base:
            return None
        target = url.path + (f"?{url.query}" if url.query else "")
        if SKIP.match(url.path) or target in self.seen:
            return None
        kind = shape(target)
        if self.shapes.get(kind, 0) >= PER_SHAPE:
            return None
        self.seen.add(target)
        self.shapes[kind] = self.shapes.get(kind, 0) + 1
        return target


def check_file(page: Any, target: str, came_from: str, crawl: Crawl) -> None:
    r = page.request.get(target)
    if r.status >= 500 or r.status == 404:
        crawl.problems.append(f"{target} (linked from {came_from}): file answered {r.status}")


def check_page(page: Any, target: str, came_from: str, crawl: Crawl, shot: Any) -> list[str]:
    """Open one page, check it, and return its links."""
    response = page.goto(target)
    status = response.status if response else 0
    where = f"{target} (linked from {came_from})"
    crawl.visited.append(target)
    if status >= 500 or status == 404:
        crawl.problems.append(f"{where}: HTTP {status}")
    lang = page.get_attribute("html", "lang")
    if lang != "zh-CN":
        crawl.problems.append(f"{where}: <html lang={lang!r}>")
    if not HAN.search(page.inner_text("body")):
        crawl.problems.append(f"{where}: no Chinese text")
    for width in NARROW_WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        scroll_w, inner_w = page.evaluate(OVERFLOW_JS)
        if scroll_w > inner_w + 1:
            shot(page.raw, f"overflow {width}px {target}")
            crawl.problems.append(f"{where}: {scroll_w} px wide at {width} px")
    page.set_viewport_size({"width": 1366, "height": 768})
    return page.evaluate(LINKS_JS)


@pytest.mark.parametrize("username", [u[0] for u in DEMO_USERS])
def test_every_link_as_every_role(username: str, page: Any, login: Any, live_server: str, shot: Any) -> None:
    login(page, username)
    crawl = Crawl(live_server)
    # the dashboard, and the header's search box (a form, not a link) with a sample code and a producer
    starts = ["/", "/search?q=S2026", "/search?q=合作社"]
    queue: deque[tuple[str, str]] = deque([(crawl.admit(p, page.url) or p, "login") for p in starts])
    while queue and len(crawl.visited) < MAX_PAGES:
        target, came_from = queue.popleft()
        if FILES.search(target):
            check_file(page, target, came_from, crawl)
            continue
        for href in check_page(page, target, came_from, crawl, shot):
            nxt = crawl.admit(href, live_server + target)
            if nxt:
                queue.append((nxt, target))
    assert len(crawl.visited) >= 5, f"{username} reached only {crawl.visited}"
    assert not crawl.problems, f"{username}: " + "\n".join(crawl.problems)
