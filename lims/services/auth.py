"""Authentication: password logins with throttling, e-signature password checks, UI sessions, bearer
tokens, API keys. Accounts themselves (policy, life cycle) are in :mod:`lims.services.accounts`.

Passwords are stored only as argon2id hashes (:mod:`lims.security`); tokens only as their SHA-256
digest (:class:`~lims.db.models.ApiToken`), so a database dump reveals no usable credential.

Three kinds of token (``ApiToken.kind``):

* ``session`` — the web UI's cookie, valid ``Settings.session_minutes`` after login;
* ``bearer``  — an API client's token (``Authorization: Bearer``), made by a person for themselves
  only (no one, administrators included, makes a token for another person: that was impersonation),
  valid :data:`BEARER_DEFAULT_DAYS` unless told otherwise;
* ``api_key`` — the credential of a *service account* (instrument, hub, script; it cannot log in with a
  password and never signs), made by an administrator, without expiry unless told otherwise. It acts
  as ``service:NAME`` in the audit trail.

Password checks — logins and the re-entered password of an e-signature — are throttled in memory
(:mod:`lims.services.throttle`: per client address and per account, exponential backoff, never a lock)
and their failures are written in batches off the request path. A login's password check needs no
write transaction (:func:`check_login` runs on a read-only session); only a successful login writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import as_utc, utcnow
from lims.config import Settings, get_settings
from lims.db.audit import append_events
from lims.db.models import ApiToken, Role, User
from lims.security import AuthenticationError, hash_password, new_token, token_digest, verify_password
from lims.services import throttle
from lims.services.accounts import (
    BLOCKED_PASSWORDS,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    SERVICE_PASSWORD_HASH,
    check_password_policy,
    create_service_user,
    create_user,
    find_user,
    get_user,
    is_service_user,
    principal_name,
    set_password,
)
from lims.services.errors import Forbidden, InvalidInput, NotFound
from lims.services.revocation import bump_generation

#: Re-exported from lims.services.accounts (the account API as it was before the split).
__all__ = ["BLOCKED_PASSWORDS", "MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "SERVICE_PASSWORD_HASH",
           "check_password_policy", "create_service_user", "create_user", "get_user", "is_service_user",
           "principal_name", "set_password"]

#: Lifetime of a bearer token when the caller does not choose one, and the longest allowed.
BEARER_DEFAULT_DAYS = 30
BEARER_MAX_DAYS = 365

_GENERIC_FAILURE = "登录失败：用户名或密码错误 / login failed: wrong username or password"


class TokenKind(StrEnum):
    SESSION = "session"
    BEARER = "bearer"
    API_KEY = "api_key"


class LoginThrottled(AuthenticationError):
    """Too many failed password checks: try again in ``retry_after_s`` seconds (429 with Retry-After)."""

    def __init__(self, username: str, retry_after_s: int, *, code: str) -> None:
        self.username = username
        self.retry_after_s = max(1, retry_after_s)
        if code == "auth.login_busy":
            super().__init__(f"登录请求过多，请 {self.retry_after_s} 秒后重试 / too many logins at once: "
                             f"retry after {self.retry_after_s} s", code=code)
            return
        signature = code == "auth.signature_throttled"
        what = "签名密码错误次数过多" if signature else "登录失败次数过多"
        english = "e-signature password checks" if signature else "logins"
        super().__init__(f"{what}，请 {self.retry_after_s} 秒后重试 / too many failed {english} for "
                         f"'{username[:60]}' or from this address: retry after {self.retry_after_s} s", code=code)


@dataclass(frozen=True)
class IssuedToken:
    """A token as handed out once; only its digest is stored."""

    token: str
    token_id: int
    kind: TokenKind
    user_id: int
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class Authenticated:
    """Who presented a token, and which token it was."""

    user: User
    token_id: int
    kind: TokenKind
    expires_at: dt.datetime | None


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive UTC; PostgreSQL aware."""
    return None if t is None else as_utc(t)


def _audit(session: Session, action: str, user: User, detail: dict[str, object]) -> None:
    """Append an explicit audit event (login, logout, revoke) in the caller's transaction."""
    session.flush()
    append_events(session, [(action, User.__tablename__, str(user.id), None,
                             {"username": user.username, **detail})])


# ---------------------------------------------------------------------------------------------- passwords


_dummy_hash: str | None = None


def _burn_verify(password: str) -> None:
    """Spend one argon2 verification so an unknown username costs as much as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("unknown-user-dummy-password")
    verify_password(_dummy_hash, password)


def _checked_password(session: Session, username: str, password: str, *, remote: str, purpose: str,
                      guard: throttle.PasswordGuard, failures: throttle.FailureLog) -> User | None:
    """The account when the password is right; None (failure counted and logged) otherwise. Raises
    :class:`LoginThrottled` before looking at the password while a wait applies. Writes nothing."""
    wait = guard.retry_after_s(username, remote)
    if wait:
        raise LoginThrottled(username, wait,
                             code="auth.signature_throttled" if purpose == "signature" else "auth.login_throttled")
    user = find_user(session, username)
    if user is None:
        _burn_verify(password)
    elif verify_password(user.password_hash, password):
        guard.success(username, remote)
        return user
    guard.failure(username, remote)
    failures.add(username, remote, purpose)
    return None


def check_login(session: Session, username: str, password: str, *, remote: str = "",
                guard: throttle.PasswordGuard | None = None,
                failures: throttle.FailureLog | None = None) -> User:
    """The account of a right username and password (any session, read-only is enough).

    Raises :class:`LoginThrottled` while a backoff wait applies (the password is not looked at), and
    :class:`AuthenticationError` for a wrong username/password, a disabled or a service account."""
    if not username or len(username) > 200:
        raise AuthenticationError(_GENERIC_FAILURE, code="auth.login_failed")
    user = _checked_password(session, username, password, remote=remote, purpose="login",
                             guard=guard or throttle.login_guard(), failures=failures or throttle.FAILURES)
    if user is None or is_service_user(user):
        raise AuthenticationError(_GENERIC_FAILURE, code="auth.login_failed")
    if not user.active:
        raise AuthenticationError(f"登录失败：账户已停用 / login refused: account {user.username!r} is disabled",
                                  code="auth.account_disabled")
    return user


def check_signature(session: Session, username: str, password: str, *,
                    guard: throttle.PasswordGuard | None = None,
                    failures: throttle.FailureLog | None = None) -> User:
    """An e-signature's re-entered password, throttled and logged like a login (a service account
    never signs). Raises :class:`LoginThrottled` (code ``auth.signature_throttled``) or
    :class:`AuthenticationError` (``auth.wrong_password``)."""
    user = _checked_password(session, username, password, remote="", purpose="signature",
                             guard=guard or throttle.signature_guard(), failures=failures or throttle.FAILURES)
    if user is None or not user.active or is_service_user(user):
        raise AuthenticationError("签名失败：用户名或密码错误 / signature refused: wrong username or password",
                                  code="auth.wrong_password")
    return user


def change_own_password(session: Session, user: User, old_password: str, new_password: str, *,
                        keep_token_id: int | None = None, remote: str = "",
                        guard: throttle.PasswordGuard | None = None) -> None:
    """A person changes their own password; the old one is checked under the login throttle."""
    from lims.services.accounts import change_password

    guard = guard or throttle.login_guard()
    wait = guard.retry_after_s(user.username, remote)
    if wait:
        raise LoginThrottled(user.username, wait, code="auth.login_throttled")
    if not verify_password(user.password_hash, old_password):
        guard.failure(user.username, remote)
        throttle.FAILURES.add(user.username, remote, "login")
    change_password(session, user, old_password, new_password, keep_token_id=keep_token_id)


# ---------------------------------------------------------------------------------------------- login


def open_session(session: Session, user: User, *, remote: str = "", kind: TokenKind = TokenKind.SESSION,
                 label: str = "", settings: Settings | None = None,
                 now: dt.datetime | None = None) -> IssuedToken:
    """Issue the UI session (or, with ``kind=bearer``, an API token) of a checked login; audited."""
    settings = settings or get_settings()
    now = now or utcnow()
    if kind not in (TokenKind.SESSION, TokenKind.BEARER):
        raise InvalidInput("kind: a login issues a session or a bearer token", field="kind")
    user = session.get(User, user.id) or user
    minutes = settings.session_minutes if kind == TokenKind.SESSION else BEARER_DEFAULT_DAYS * 24 * 60
    issued = issue_token(session, user, kind, expires_at=now + dt.timedelta(minutes=minutes),
                         label=label or f"login {remote}".strip())
    session.info["actor"] = user.username  # from here on the audit trail names the person
    _audit(session, "login", user, {"remote": remote, "token_kind": str(kind), "token_id": issued.token_id})
    session.flush()
    return issued


def login(session: Session, username: str, password: str, *, remote: str = "",
          kind: TokenKind = TokenKind.SESSION, label: str = "", settings: Settings | None = None,
          now: dt.datetime | None = None, guard: throttle.PasswordGuard | None = None,
          failures: throttle.FailureLog | None = None) -> tuple[User, IssuedToken]:
    """:func:`check_login` then :func:`open_session` in one session (the API splits them so that a failed
    login never takes a write transaction)."""
    user = check_login(session, username, password, remote=remote, guard=guard, failures=failures)
    return user, open_session(session, user, remote=remote, kind=kind, label=label, settings=settings, now=now)


# ---------------------------------------------------------------------------------------------- tokens


def issue_token(session: Session, user: User, kind: TokenKind, *, expires_at: dt.datetime | None,
                label: str = "") -> IssuedToken:
    """Store a new token's digest and return the token itself (shown once). No permission checks."""
    token = new_token()
    row = ApiToken(user_id=user.id, kind=str(kind), digest=token_digest(token), label=label[:120],
                   expires_at=expires_at)
    session.add(row)
    session.flush()
    return IssuedToken(token, row.id, TokenKind(kind), user.id, expires_at)


def _may_manage_users(user: User) -> bool:
    return Role.ADMIN in user.role_names


def create_bearer_token(session: Session, actor: User, *, for_user: User | None = None, label: str = "",
                        days: int | None = None, now: dt.datetime | None = None) -> IssuedToken:
    """A bearer token for ``actor`` themselves. Nobody makes one for another account — administrators
    included (that was impersonation: a report issued "as" the approver); a program gets a service
    account and an API key (:func:`create_api_key`)."""
    owner = for_user or actor
    if owner.id != actor.id:
        raise Forbidden(f"username: a bearer token is made by its owner only, not for {owner.username!r}; "
                        "give a program a service account and an API key", field="username",
                        code="auth.token_for_other")
    if is_service_user(owner):
        raise InvalidInput("kind: a service account holds API keys, not bearer tokens", field="kind")
    if not owner.active:
        raise InvalidInput(f"username: account {owner.username!r} is disabled", field="username")
    days = BEARER_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= BEARER_MAX_DAYS:
        raise InvalidInput(f"expires_days: between 1 and {BEARER_MAX_DAYS} (got {days})", field="expires_days")
    now = now or utcnow()
    return issue_token(session, owner, TokenKind.BEARER, expires_at=now + dt.timedelta(days=days),
                       label=label or "bearer")


def create_api_key(session: Session, actor: User, service_user: User, *, label: str = "",
                   days: int | None = None, now: dt.datetime | None = None) -> IssuedToken:
    """An API key for an instrument or a hub, owned by a service user; administrators only."""
    if not _may_manage_users(actor):
        raise Forbidden("kind: only an administrator may create API keys", field="kind")
    if not is_service_user(service_user):
        raise InvalidInput(f"username: {service_user.username!r} is a person; API keys belong to service users",
                           field="username")
    if days is not None and not 1 <= days <= 10 * BEARER_MAX_DAYS:
        raise InvalidInput(f"expires_days: between 1 and {10 * BEARER_MAX_DAYS} (got {days})",
                           field="expires_days")
    now = now or utcnow()
    expires = now + dt.timedelta(days=days) if days is not None else None
    return issue_token(session, service_user, TokenKind.API_KEY, expires_at=expires,
                       label=label or f"api key by {actor.username}")


def resolve_token(session: Session, token: str, *, now: dt.datetime | None = None) -> Authenticated:
    """Who holds ``token``: refused when unknown, revoked, expired or its user is disabled."""
    if not token or len(token) > 200:
        raise AuthenticationError("token: missing or malformed")
    row = session.execute(select(ApiToken).where(ApiToken.digest == token_digest(token))).scalar_one_or_none()
    if row is None:
        raise AuthenticationError("token: unknown")
    if row.revoked:
        raise AuthenticationError("token: revoked")
    expires = _aware(row.expires_at)
    if expires is not None and expires <= (now or utcnow()):
        raise AuthenticationError("token: expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthenticationError("token: its user is disabled")
    return Authenticated(user, row.id, TokenKind(row.kind), expires)


def authenticate_token(session: Session, token: str) -> User:
    """The user holding a valid token (see :func:`resolve_token`)."""
    return resolve_token(session, token).user


def logout(session: Session, token: str) -> None:
    """Revoke the presented token (idempotent for an already revoked one)."""
    row = session.execute(select(ApiToken).where(ApiToken.digest == token_digest(token))).scalar_one_or_none()
    if row is None:
        raise NotFound("token: unknown", field="token")
    if not row.revoked:
        row.revoked = True
        bump_generation(session)
        user = session.get(User, row.user_id)
        if user is not None:
            session.info["actor"] = user.username
            _audit(session, "logout", user, {"token_id": row.id, "token_kind": row.kind})
        session.flush()


def revoke_token(session: Session, token_id: int, *, actor: User) -> None:
    """Revoke a token by id: its owner, or an administrator (others get :class:`NotFound`)."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and not _may_manage_users(actor)):
        # another person's token is answered like a missing one: ids of others' tokens are not disclosed
        raise NotFound(f"token_id: token {token_id} does not exist", field="token_id")
    if not row.revoked:
        row.revoked = True
        bump_generation(session)
        _audit(session, "revoke", actor, {"token_id": row.id, "token_kind": row.kind})
        session.flush()


def active_tokens(session: Session, user: User, *, now: dt.datetime | None = None) -> list[ApiToken]:
    """The user's tokens that are neither revoked nor expired (digests only, never the tokens)."""
    now = now or utcnow()
    rows = session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
                           .order_by(ApiToken.id)).scalars().all()
    return [r for r in rows if (_aware(r.expires_at) or now + dt.timedelta(seconds=1)) > now]
