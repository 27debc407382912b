"""Browser tests: a live ``lims serve`` on the demo day's database, driven by Debian's Chromium through
Playwright (no browser is downloaded: ``playwright install`` is never run; ``.ci/run`` installs the
``chromium`` and ``chromium-driver`` packages).

- ``live_server``: ``lims demo`` once per session into a temporary folder (a fresh SQLite database seeded as
  the demo seeds it: users, methods, instruments, samples, batches, reports, a PT round, quality records),
  then ``lims serve`` on a free port over that database; its base URL.
- ``browser``: Chromium headless from ``/usr/bin/chromium`` with a new empty profile.
- ``page``: a fresh context and page; every page it loads is saved as
  ``test-output/screenshots/<test>/<n>.png`` (``shot(page)`` saves one more at any time).
- ``login(page, username)`` (a fixture): signs in with the demo password (:data:`lims.demo.PASSWORDS`).

Every test here is marked ``e2e``. Without Chromium (or Playwright) they are skipped — except under CI
(``CI=true``), where they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lims.demo import PASSWORDS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
#: Seconds ``lims demo`` and ``lims serve`` may take to be ready on a busy 2-core machine.
DEMO_TIMEOUT_S = 300
SERVE_TIMEOUT_S = 90


def _missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not installed (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    missing = _missing_browser()
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if missing and os.environ.get("CI") != "true":  # under CI they must run (and fail loudly)
            item.add_marker(pytest.mark.skip(reason=missing))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quiet_env(**extra: str) -> dict[str, str]:
    """The environment without the settings that would point the demo or the server elsewhere."""
    env = {k: v for k, v in os.environ.items() if k not in
           {"LIMS_DATABASE_URL", "LIMS_UPSTREAM_URL", "LIMS_UPSTREAM_KEY", "LIMS_PUBLIC_URL"}}
    return {**env, "LIMS_LOG_FORMAT": "text", "LIMS_LOG_LEVEL": "WARNING", **extra}


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(url + "/login", timeout=5) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"lims serve exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"lims serve did not answer in {SERVE_TIMEOUT_S} s")
        time.sleep(0.3)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the demo day (``lims demo --out``): its database, reports and keys. While writing
    tests, ``LIMS_E2E_DEMO_DIR`` names a demo folder to reuse (made once with ``lims demo --out DIR``)."""
    reuse = os.environ.get("LIMS_E2E_DEMO_DIR")
    if reuse and (Path(reuse) / "lims.db").exists():  # brought to the migrations' head first
        subprocess.run([sys.executable, "-m", "lims.cli", "db", "upgrade"], check=True, capture_output=True,
                       env=_quiet_env(LIMS_DATABASE_URL=f"sqlite:///{Path(reuse) / 'lims.db'}"))
        return Path(reuse)
    out = tmp_path_factory.mktemp("e2e") / "demo"
    run = subprocess.run([sys.executable, "-m", "lims.cli", "demo", "--out", str(out)], env=_quiet_env(),
                         cwd=out.parent, capture_output=True, timeout=DEMO_TIMEOUT_S)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    return out


@pytest.fixture(scope="session")
def live_server(demo_dir: Path) -> Iterator[str]:
    """Base URL of ``lims serve`` on the demo day's database."""
    port = _free_port()
    log = demo_dir.parent / "serve.log"
    env = _quiet_env(LIMS_DATABASE_URL=f"sqlite:///{demo_dir / 'lims.db'}",
                     LIMS_REPORT_DIR=str(demo_dir / "reports"),
                     LIMS_AUDIT_STATUS_FILE=str(demo_dir / "audit-verify.json"))
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "serve", "--port", str(port)], env=env,
                                cwd=demo_dir.parent, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, url, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, with a new empty user-data-dir (``launch`` makes a fresh temporary
    profile each time and refuses a ``--user-data-dir`` argument)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _test_folder(node: pytest.Item) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name).strip("_")[:120]
    folder = SCREENSHOTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Shots:
    """Numbered full-page screenshots of one test (``<n>.png``)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.n = folder, 0

    def __call__(self, page: Any, note: str = "") -> Path | None:
        self.n += 1
        path = self.folder / f"{self.n}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception:  # noqa: BLE001 - a page that closed or navigated away: no picture, no failure
            return None
        if note:
            with (self.folder / "index.txt").open("a", encoding="utf-8") as f:
                f.write(f"{self.n}.png {note}\n")
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    """``shot(page, note)``: save a numbered screenshot of the page now."""
    return Shots(_test_folder(request.node))


class ShotPage:
    """A Playwright page that saves a screenshot of each page it loaded. A screenshot cannot be taken inside
    the page's own event handler (the sync API would re-enter its loop), so the ``load`` handler only notes
    the load and the next call on the page (or the end of the test) takes the picture. ``.raw`` is the
    Playwright page itself (for ``expect``)."""

    def __init__(self, raw: Any, shot: Shots) -> None:
        self.raw, self._shot, self._loaded = raw, shot, ""
        raw.on("load", self._note)

    def _note(self, loaded: Any) -> None:
        self._loaded = loaded.url

    def flush(self) -> None:
        if self._loaded:
            url, self._loaded = self._loaded, ""
            self._shot(self.raw, url)

    def __getattr__(self, name: str) -> Any:
        self.flush()
        value = getattr(self.raw, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            out = value(*args, **kwargs)
            if hasattr(out, "__exit__"):  # expect_navigation() and the like: the load happens at the exit
                return _FlushOnExit(out, self)
            self.flush()
            return out
        return call


class _FlushOnExit:
    def __init__(self, inner: Any, page: ShotPage) -> None:
        self.inner, self.page = inner, page

    def __enter__(self) -> Any:
        return self.inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        out = self.inner.__exit__(*exc)
        self.page.flush()
        return out


def _context(browser: Any, live_server: str) -> Any:
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 768},
                                  locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True)
    context.set_default_timeout(30_000)
    return context


@pytest.fixture
def page(browser: Any, live_server: str, shot: Shots) -> Iterator[ShotPage]:
    """A page in its own context (cookies) at 1366×768, with the live server as base URL; a screenshot of
    every page it loads (:class:`ShotPage`)."""
    context = _context(browser, live_server)
    p = ShotPage(context.new_page(), shot)
    try:
        yield p
    finally:
        p.flush()
        context.close()


@pytest.fixture
def as_user(browser: Any, live_server: str, shot: Shots) -> Iterator[Any]:
    """``as_user(username)``: another person at another PC — a page in a context of its own, signed in as
    that demo user, its pages saved with the test's other screenshots."""
    opened: list[tuple[Any, ShotPage]] = []

    def open_as(username: str) -> ShotPage:
        context = _context(browser, live_server)
        p = ShotPage(context.new_page(), shot)
        opened.append((context, p))
        sign_in(p, username)
        return p
    try:
        yield open_as
    finally:
        for context, p in opened:
            p.flush()
            context.close()


def sign_in(page: Any, username: str) -> None:
    """Sign in as a demo user (password from :data:`lims.demo.PASSWORDS`) and land on the dashboard."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORDS[username])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/login" not in page.url, f"login as {username} failed: {page.inner_text('body')[:300]}"


@pytest.fixture
def login() -> Any:
    """``login(page, username)``: sign in as a demo user (:func:`sign_in`)."""
    return sign_in
