"""The accounts page for administrators and the own-password page (issue 11, account life cycle, web UI;
zh-CN first): every form posts with the session's CSRF token; a reset password sends its owner to the
password page until it is changed."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from lims import demo
from lims.db.models import AuditEvent, User
from lims.demo import PASSWORDS
from lims.demo import reference as demo_reference
from lims.security import hash_password

_HASHES: dict[str, str] = {}


def _hash_once(password: str) -> str:
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@pytest.fixture
def app(db_engine, db_factory, monkeypatch):
    monkeypatch.setattr(demo_reference, "hash_password", _hash_once)
    demo.seed_reference(db_factory)
    return create_app(db_engine)


def _signed_in(app, username: str, password: str | None = None) -> TestClient:
    c = TestClient(app, raise_server_exceptions=False)
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"username": username, "password": password or PASSWORDS[username],
                               "csrf_token": csrf, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    c.last_redirect = r.headers["location"]  # type: ignore[attr-defined]
    return c


def _csrf(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def _user(factory, username: str) -> User:
    with factory() as s:
        return s.execute(select(User).where(User.username == username)).scalar_one()


def test_admin_manages_accounts_on_the_users_page(app, db_factory):
    admin = _signed_in(app, "admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "用户账户" in page.text
    assert "zhangwei" in page.text and "人员账户" in page.text and 'href="/admin/users"' in page.text
    csrf = _csrf(page.text)
    # without the session's token nothing happens
    assert admin.post("/admin/users/zhangwei/disable", data={"reason": "x"}).status_code == 403
    r = admin.post("/admin/users/zhangwei/disable", data={"reason": "调岗", "csrf_token": csrf},
                   follow_redirects=False)
    assert r.status_code == 303 and not _user(db_factory, "zhangwei").active
    assert "已停用账户" in admin.get(r.headers["location"]).text
    admin.post("/admin/users/zhangwei/enable", data={"csrf_token": csrf})
    assert _user(db_factory, "zhangwei").active
    r = admin.post("/admin/users/zhangwei/roles", data={"role": ["technician", "reviewer"], "csrf_token": csrf},
                   follow_redirects=False)
    assert r.status_code == 303 and _user(db_factory, "zhangwei").role_names == {"technician", "reviewer"}
    # a refusal is a zh-CN message on the page, naming the rule
    r = admin.post("/admin/users/zhangwei/reset-password", data={"new_password": "short", "csrf_token": csrf})
    assert r.status_code == 422 and "密码不符合要求" in r.text
    r = admin.post("/admin/users/admin/disable", data={"csrf_token": csrf})
    assert r.status_code == 409 and "不能停用本人的账户" in r.text
    r = admin.post("/admin/users", data={"username": "gc-02", "full_name": "气相色谱仪 GC-02", "kind": "service",
                                         "role": ["technician"], "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and _user(db_factory, "gc-02").kind == "service"
    assert "service:gc-02" in admin.get("/admin/users").text
    with db_factory() as s:
        actors = {e.actor for e in s.execute(select(AuditEvent).where(AuditEvent.action.like("user.%"))).scalars()}
    assert actors == {"admin"}
    # a technician is refused with the zh-CN 403 page
    tech = _signed_in(app, "liqiang")
    r = tech.get("/admin/users")
    assert r.status_code == 403 and "管理用户账户" in r.text


def test_a_reset_password_must_be_changed_before_anything_else(app, db_factory):
    admin = _signed_in(app, "admin")
    csrf = _csrf(admin.get("/admin/users").text)
    admin.post("/admin/users/zhangwei/reset-password", data={"new_password": "Lin-Shi-Mi-Ma-2026",
                                                              "csrf_token": csrf})
    user = _signed_in(app, "zhangwei", "Lin-Shi-Mi-Ma-2026")
    assert user.last_redirect == "/account/password"  # type: ignore[attr-defined]
    r = user.get("/samples", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    page = user.get("/account/password")
    assert page.status_code == 200 and "管理员已重置您的密码" in page.text
    csrf = _csrf(page.text)
    form = {"old_password": "Lin-Shi-Mi-Ma-2026", "new_password": "Xin-Mi-Ma-Hao-Ji-7", "csrf_token": csrf}
    r = user.post("/account/password", data=form | {"new_password_again": "something-else-12"})
    assert r.status_code == 422 and "两次输入的新密码不一致" in r.text
    r = user.post("/account/password", data=form | {"old_password": "wrong-wrong-wrong",
                                                    "new_password_again": form["new_password"]})
    assert r.status_code == 422 and "原密码错误" in r.text
    r = user.post("/account/password", data=form | {"new_password_again": form["new_password"]},
                  follow_redirects=False)
    assert r.status_code == 303
    assert user.get("/samples").status_code == 200  # this session stays; the change is in force
    assert not _user(db_factory, "zhangwei").must_change_password


def test_language_switch_is_kept_per_user(app, db_factory):
    """The header's language switch: English kept on the account (every later page, every session of
    that user), Chinese again on the way back; other users keep their own; audited; the redirect stays
    on this site."""
    tech = _signed_in(app, "zhangwei")
    page = tech.get("/samples")
    assert 'lang="zh-CN"' in page.text and "退出登录" in page.text
    r = tech.post("/account/language", data={"language": "en", "back": "/samples", "csrf_token": _csrf(page.text)},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/samples"
    page = tech.get("/samples")
    assert 'lang="en"' in page.text and "Log out" in page.text and "退出登录" not in page.text
    assert _user(db_factory, "zhangwei").language == "en"
    assert 'lang="en"' in _signed_in(app, "zhangwei").get("/samples").text  # a new session: still English
    assert 'lang="zh-CN"' in _signed_in(app, "admin").get("/admin/users").text  # others keep theirs
    with db_factory() as s:
        assert s.execute(select(AuditEvent).where(AuditEvent.table_name == "user_account",
                                                  AuditEvent.reason == "language (web UI)")).first()
    r = tech.post("/account/language", data={"language": "fr", "back": "/", "csrf_token": _csrf(page.text)})
    assert r.status_code == 422 and "expected one of zh-CN, en" in r.text
    r = tech.post("/account/language", data={"language": "zh-CN", "back": "//evil.example/x",
                                              "csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert 'lang="zh-CN"' in tech.get("/samples").text
