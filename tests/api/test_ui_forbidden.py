"""A signed-in user refused by a UI page (``require_ui``) gets a zh-CN page with status 403 naming the
missing permission in words, inside the usual layout, with a way back to the dashboard; the same refusal on
an API route stays JSON, and an anonymous visitor is still sent to /login."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.security import CSRF_COOKIE, SESSION_COOKIE
from lims.db.engine import session_scope
from lims.db.models import AuditEvent
from lims.demo import seed_reference
from lims.services import auth
from tests.api.ui_session import CSRF, signed_in


@pytest.fixture
def app(db_engine, db_factory):
    seed_reference(db_factory)
    return create_app(db_engine)




def test_a_technician_opening_the_audit_page_gets_a_chinese_403_page(app):
    tech = signed_in(app, "zhangwei")
    r = tech.get("/audit")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="zh-CN">' in page and 'action="/logout"' in page  # the base layout, with logout
    assert "无权访问此页面" in page and "403 Forbidden" in page
    assert "查看审计追踪" in page and "read the audit trail" in page and "<code>audit:read</code>" in page
    assert "角色：检验员" in page  # who they are, in words
    assert "质量负责人、系统管理员" in page and "qa_manager, admin" in page  # who could open it
    assert '<a href="/">← 返回工作台' in page
    assert r.headers["cache-control"] == "no-store"
    assert 'href="/audit"' not in page  # navigation still shows only what the user may open


def test_the_same_refusal_on_the_api_stays_json(app, db_factory):
    tech = signed_in(app, "zhangwei")
    r = tech.get("/api/v1/audit/events")  # the session cookie on an API route
    assert r.status_code == 403 and r.headers["content-type"] == "application/json"
    assert "audit:read" in r.json()["detail"] and "zhangwei" in r.json()["detail"]
    with session_scope(db_factory, actor="zhangwei") as s:
        token = auth.issue_token(s, auth.get_user(s, "zhangwei"), auth.TokenKind.BEARER, expires_at=None).token
    r = TestClient(app).get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.headers["content-type"] == "application/json"
    assert "audit:read" in r.json()["detail"]


def test_anonymous_visitors_are_still_sent_to_login(app):
    r = TestClient(app).get("/audit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/audit"


def _audit_events(db_factory) -> int:
    with db_factory() as s:
        return s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_a_refused_form_post_is_a_page_too_and_writes_nothing(app, db_factory):
    tech = signed_in(app, "zhangwei")
    before = _audit_events(db_factory)
    csrf = CSRF.search(tech.get("/instruments").text).group(1)  # type: ignore[union-attr]
    r = tech.post("/instruments/EI-01/reparse", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "管理仪器" in r.text and "<code>instruments:write</code>" in r.text
    # a stale form (CSRF token missing or wrong) is checked first and explained, not shown as JSON
    r = tech.post("/instruments/EI-01/reparse", data={"csrf_token": "stale"}, follow_redirects=False)
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "表单已失效，请刷新页面后重试" in r.text and "CSRF token missing or wrong" in r.text
    assert tech.cookies.get(CSRF_COOKIE) and tech.cookies.get(SESSION_COOKIE)  # still signed in
    assert _audit_events(db_factory) == before
