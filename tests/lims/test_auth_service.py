"""lims.services.auth on SQLite and PostgreSQL: users, password policy, login throttling, sessions,
bearer tokens, API keys, expiry, revocation, disabled accounts, and the audit trail of logins."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lims.config import Settings
from lims.db.engine import session_scope
from lims.db.models import ApiToken, AuditEvent, Lab, LoginFailure, Role, User
from lims.security import AuthenticationError, token_digest, verify_password
from lims.services import auth, throttle
from lims.services.errors import Conflict, Forbidden, InvalidInput, NotFound

TECH_PASSWORD = "Jiance-Shi-2026!"
ADMIN_PASSWORD = "Guanli-Yuan-2026!"
T0 = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def lab(db_factory):
    with session_scope(db_factory, actor="test:setup") as s:
        s.add(Lab(code="LAB-TEST", name="测试检测站"))
    with session_scope(db_factory, actor="test:setup") as s:
        auth.create_user(s, "zhaomin", "赵敏", TECH_PASSWORD, [Role.TECHNICIAN])
        auth.create_user(s, "sysadmin", "系统管理员", ADMIN_PASSWORD, ["admin"])
    return db_factory


def _failures(factory, username: str) -> int:
    with factory() as s:
        return s.execute(select(func.count()).select_from(LoginFailure)
                         .where(LoginFailure.username == username)).scalar_one()


def test_create_user_stores_argon2id_and_enforces_the_policy(lab):
    with lab() as s:
        user = s.execute(select(User).where(User.username == "zhaomin")).scalar_one()
        assert user.password_hash.startswith("$argon2id$") and TECH_PASSWORD not in user.password_hash
        assert verify_password(user.password_hash, TECH_PASSWORD)
        assert user.role_names == {"technician"}
    bad = [("short", "Abc-12345", "password"),            # 9 < 10 characters
           ("nameinside", "xx-nameinside-xx", "password"),
           ("common", "Password123", "password"),         # blocked list, case-insensitive
           ("single", "aaaaaaaaaaaa", "password")]
    for username, password, field in bad:
        with lab() as s, pytest.raises(InvalidInput) as e:
            auth.create_user(s, username, "某人", password, ["technician"])
        assert e.value.field == field, (username, str(e.value))
    with lab() as s, pytest.raises(InvalidInput) as e:
        auth.create_user(s, "someone", "某人", "Long-enough-pw", ["chemist"])
    assert e.value.field == "roles" and "chemist" in str(e.value)
    with lab() as s, pytest.raises(Conflict) as e:
        auth.create_user(s, "zhaomin", "赵敏", "Another-Pass-1", ["technician"])
    assert e.value.field == "username"


def test_login_issues_a_session_expiring_after_session_minutes_and_is_audited(lab):
    settings = Settings(session_minutes=30, login_max_failures=5)
    now = dt.datetime.now(dt.UTC)
    with session_scope(lab, actor="anonymous@127.0.0.1") as s:
        user, issued = auth.login(s, "zhaomin", TECH_PASSWORD, remote="127.0.0.1", settings=settings, now=now)
    assert user.username == "zhaomin" and issued.kind == auth.TokenKind.SESSION
    assert issued.expires_at == now + dt.timedelta(minutes=30)
    with lab() as s:
        row = s.execute(select(ApiToken).where(ApiToken.id == issued.token_id)).scalar_one()
        assert row.digest == token_digest(issued.token) and row.kind == "session"
        assert issued.token not in {row.digest, row.label}
        assert auth.authenticate_token(s, issued.token).username == "zhaomin"
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "login")).scalar_one()
        assert event.actor == "zhaomin" and '"remote":"127.0.0.1"' in event.new
        assert issued.token not in " ".join(e.new for e in s.execute(select(AuditEvent)).scalars())


def test_wrong_password_and_unknown_user_are_refused_alike_and_recorded(lab):
    messages = []
    for username in ("zhaomin", "nobody"):
        with pytest.raises(AuthenticationError) as e:
            with session_scope(lab, actor="anonymous") as s:
                auth.login(s, username, "Wrong-Password-1")
        messages.append(str(e.value))
    assert messages[0] == messages[1] and "wrong username or password" in messages[0]
    # recorded although the unit of work rolled back: in memory at once, in the database at the next
    # batch write (issue 11: failures no longer take a write transaction each)
    assert _failures(lab, "zhaomin") == 0 and throttle.FAILURES.pending() == 2
    assert throttle.FAILURES.flush(lab) == 2
    assert _failures(lab, "zhaomin") == 1 and _failures(lab, "nobody") == 1


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_throttling_backs_off_without_checking_the_password_and_never_locks(lab):
    """Issue 11 changes this: five wrong logins used to lock the account for 15 minutes (anyone could lock
    anyone out). Now: free failures, then waits doubling per failure (429 + Retry-After), never a lock."""
    clock = FakeClock()
    guard = throttle.PasswordGuard.for_logins(3, clock=clock)

    def attempt(password: str, remote: str = "10.0.0.9", username: str = "zhaomin"):  # type: ignore[no-untyped-def]
        with session_scope(lab, actor="anonymous") as s:
            return auth.login(s, username, password, remote=remote, guard=guard)

    for _ in range(3):
        with pytest.raises(AuthenticationError) as e:
            attempt("Wrong-Password-1")
        assert not isinstance(e.value, auth.LoginThrottled)
    # the same account typed otherwise is the same account for the throttle
    with pytest.raises(auth.LoginThrottled):
        attempt(TECH_PASSWORD, username="ＺＨＡＯＭＩＮ")
    # the correct password is refused now (not looked at), naming when to retry; the refusal is not counted
    for _ in range(5):
        with pytest.raises(auth.LoginThrottled) as e:
            attempt(TECH_PASSWORD)
        assert e.value.retry_after_s == 1 and "1 秒后重试" in str(e.value)
    clock.t += 1.01
    with pytest.raises(AuthenticationError):  # another wrong one: the wait doubles
        attempt("Wrong-Password-1")
    with pytest.raises(auth.LoginThrottled) as e:
        attempt(TECH_PASSWORD)
    assert e.value.retry_after_s == 2
    # another account from the same address is not affected, nor this account from elsewhere
    attempt(ADMIN_PASSWORD, username="sysadmin")
    user, _ = attempt(TECH_PASSWORD, remote="10.0.0.10")
    assert user.username == "zhaomin"
    # the wait ends on its own and the right password then works (no lock)
    clock.t += 2.01
    user, _ = attempt(TECH_PASSWORD)
    assert user.username == "zhaomin"


def test_an_anonymous_flood_never_locks_an_account(lab):
    """Thousands of wrong passwords for one account from many addresses: the account's wait is capped
    (60 s), each address is slowed on its own, and the owner logs in once the current wait is over."""
    clock = FakeClock()
    guard = throttle.PasswordGuard.for_logins(5, clock=clock)
    for i in range(2000):
        remote = f"198.51.100.{i % 250}"
        try:
            with session_scope(lab, actor="anonymous") as s:
                auth.check_login(s, "zhaomin", f"guess-{i}-xxxxxx", remote=remote, guard=guard)
        except auth.LoginThrottled:
            pass
        except AuthenticationError:
            pass
        clock.t += 0.01
    wait = guard.retry_after_s("zhaomin", "192.0.2.1")
    assert 0 < wait <= 60
    clock.t += wait + 0.01
    with lab.read() as s:
        assert auth.check_login(s, "Zhaomin", TECH_PASSWORD, remote="192.0.2.1", guard=guard).username == "zhaomin"


def test_expired_revoked_and_logged_out_tokens_are_refused(lab):
    with session_scope(lab, actor="zhaomin") as s:
        me = auth.get_user(s, "zhaomin")
        old = auth.create_bearer_token(s, me, days=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
        live = auth.create_bearer_token(s, me, label="script")
        other = auth.create_bearer_token(s, me)
    with lab() as s:
        with pytest.raises(AuthenticationError, match="expired"):
            auth.resolve_token(s, old.token)
        found = auth.resolve_token(s, live.token)
        assert found.kind == auth.TokenKind.BEARER and found.user.username == "zhaomin"
        assert {t.id for t in auth.active_tokens(s, found.user)} == {live.token_id, other.token_id}
        with pytest.raises(AuthenticationError, match="unknown"):
            auth.resolve_token(s, live.token + "x")
    with session_scope(lab, actor="zhaomin") as s:
        auth.revoke_token(s, live.token_id, actor=auth.get_user(s, "zhaomin"))
        auth.logout(s, other.token)
    with lab() as s:
        for t in (live, other):
            with pytest.raises(AuthenticationError, match="revoked"):
                auth.resolve_token(s, t.token)
        assert s.execute(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.action.in_(["revoke", "logout"]))).scalar_one() == 2


def test_a_disabled_account_cannot_log_in_and_its_tokens_stop_working(lab):
    with session_scope(lab, actor="zhaomin") as s:
        token = auth.create_bearer_token(s, auth.get_user(s, "zhaomin")).token
    with session_scope(lab, actor="sysadmin") as s:
        auth.get_user(s, "zhaomin").active = False
    with pytest.raises(AuthenticationError, match="disabled"), session_scope(lab, actor="anonymous") as s:
        auth.login(s, "zhaomin", TECH_PASSWORD)
    with lab() as s, pytest.raises(AuthenticationError, match="disabled"):
        auth.resolve_token(s, token)


def test_api_keys_belong_to_service_users_and_only_admins_create_them(lab):
    with session_scope(lab, actor="sysadmin") as s:
        admin = auth.get_user(s, "sysadmin")
        tech = auth.get_user(s, "zhaomin")
        svc = auth.create_service_user(s, "gc-01", "气相色谱仪 GC-01", ["technician"])
        with pytest.raises(Forbidden):
            auth.create_api_key(s, tech, svc)
        with pytest.raises(InvalidInput, match="service users"):
            auth.create_api_key(s, admin, tech)
        with pytest.raises(Forbidden):  # nobody makes a bearer token for another account (issue 11)
            auth.create_bearer_token(s, admin, for_user=svc)
        with pytest.raises(InvalidInput, match="API keys"):
            auth.create_bearer_token(s, svc)
        key = auth.create_api_key(s, admin, svc, label="GC-01 acquisition")
    assert key.expires_at is None
    with lab() as s:
        found = auth.resolve_token(s, key.token)
        assert found.kind == auth.TokenKind.API_KEY and found.user.username == "gc-01"
    # a service user has no password: no login, whatever is typed
    with pytest.raises(AuthenticationError), session_scope(lab, actor="anonymous") as s:
        auth.login(s, "gc-01", "!service-account")


def test_nobody_makes_a_bearer_token_for_another_person_not_even_an_administrator(lab):
    """Issue 11 [high] admin impersonation: an administrator made a token for the approver and issued a
    report as them. Tokens are made by their owner only."""
    with session_scope(lab, actor="test") as s:
        admin = auth.get_user(s, "sysadmin")
        tech = auth.get_user(s, "zhaomin")
        for actor, owner in ((tech, admin), (admin, tech)):
            with pytest.raises(Forbidden) as e:
                auth.create_bearer_token(s, actor, for_user=owner)
            assert e.value.field == "username" and e.value.code == "auth.token_for_other"
        issued = auth.create_bearer_token(s, tech, days=7)
        assert issued.user_id == tech.id
        with pytest.raises(InvalidInput) as e:
            auth.create_bearer_token(s, tech, days=400)
        assert e.value.field == "expires_days"
        admins = auth.create_bearer_token(s, admin)
        with pytest.raises(NotFound) as e:  # not the owner, not an administrator: not disclosed
            auth.revoke_token(s, admins.token_id, actor=tech)
        assert e.value.field == "token_id"
        auth.revoke_token(s, issued.token_id, actor=admin)  # an administrator may revoke anyone's
