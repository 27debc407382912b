"""Authentication: users, password logins with throttling, UI sessions, bearer tokens, API keys.

Passwords are stored only as argon2id hashes (:mod:`lims.security`); tokens only as their SHA-256
digest (:class:`~lims.db.models.ApiToken`), so a database dump reveals no usable credential.

Three kinds of token (``ApiToken.kind``):

* ``session`` — the web UI's cookie, valid ``Settings.session_minutes`` after login;
* ``bearer``  — an API client's token (``Authorization: Bearer``), made by a user for themselves or
  by an administrator for a user, valid :data:`BEARER_DEFAULT_DAYS` unless told otherwise;
* ``api_key`` — an instrument's or a hub's key, owned by a *service user* (one that cannot log in
  with a password), without expiry unless told otherwise.

Login throttling follows NIST SP 800-63B §5.2.2 (rate limiting per account): more than
``Settings.login_max_failures`` failed attempts for one username within :data:`THROTTLE_WINDOW`
refuse further attempts *without checking the password* until the window has moved on. Throttled
attempts are not recorded, so a lockout ends on its own.

Password policy (NIST SP 800-63B §5.1.1.2: length, no composition rules, refuse known-bad values):
at least :data:`MIN_PASSWORD_LENGTH` characters, at most :data:`MAX_PASSWORD_LENGTH`, not containing
the username, not one repeated character, not in :data:`BLOCKED_PASSWORDS`. Only ``lims demo`` creates
users with known passwords (``lims.demo.DEMO_USERS``); nothing here has a default password.
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
from lims.db.models import ApiToken, Lab, LoginFailure, Role, User, UserRole
from lims.security import AuthenticationError, hash_password, new_token, token_digest, verify_password
from lims.services.errors import Conflict, Forbidden, InvalidInput, NotFound

#: Sliding window of the login throttle (the issue: "login throttling"; NIST SP 800-63B §5.2.2).
THROTTLE_WINDOW = dt.timedelta(minutes=15)
#: Password length bounds (NIST SP 800-63B §5.1.1.2 asks ≥ 8; the lab's policy is 10).
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
#: Obvious choices refused outright (NIST SP 800-63B §5.1.1.2 "commonly-used values"), lower-cased.
BLOCKED_PASSWORDS = frozenset({
    "1234567890", "12345678910", "0123456789", "9876543210", "qwertyuiop", "1q2w3e4r5t",
    "password123", "password1234", "passw0rd123", "admin12345", "admin123456", "administrator",
    "iloveyou123", "abc1234567", "abcdefghij", "a123456789", "woaini1314", "changeme123",
    "welcome123", "letmein123", "lims123456", "lims@123456",
})
#: Lifetime of a bearer token when the caller does not choose one, and the longest allowed.
BEARER_DEFAULT_DAYS = 30
BEARER_MAX_DAYS = 365
#: ``password_hash`` of a service user: not an argon2 hash, so no password ever verifies.
SERVICE_PASSWORD_HASH = "!service-account"

_GENERIC_FAILURE = "登录失败：用户名或密码错误 / login failed: wrong username or password"


class TokenKind(StrEnum):
    SESSION = "session"
    BEARER = "bearer"
    API_KEY = "api_key"


class LoginThrottled(AuthenticationError):
    """Too many failed logins for a username in the throttle window."""

    def __init__(self, username: str, retry_at: dt.datetime, now: dt.datetime) -> None:
        self.username = username
        self.retry_at = retry_at
        self.retry_after_s = max(1, int((retry_at - now).total_seconds() + 0.999))
        minutes = (self.retry_after_s + 59) // 60
        super().__init__(
            f"登录失败次数过多，请 {minutes} 分钟后重试 / too many failed logins for '{username}': "
            f"retry after {as_utc(retry_at).isoformat(timespec='seconds')} "
            f"(in {self.retry_after_s} s)")


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


# ---------------------------------------------------------------------------------------------- users


def check_password_policy(password: str, *, username: str = "") -> None:
    """Raise :class:`InvalidInput` (field ``password``) naming the rule a password breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: at least {MIN_PASSWORD_LENGTH} characters are required "
                           f"(got {len(password)})", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password: at most {MAX_PASSWORD_LENGTH} characters are allowed", field="password")
    if len(set(password)) == 1:
        raise InvalidInput("password: a single repeated character is not allowed", field="password")
    if username and username.lower() in password.lower():
        raise InvalidInput("password: must not contain the username", field="password")
    if password.lower() in BLOCKED_PASSWORDS:
        raise InvalidInput("password: this password is too common", field="password")


def _parse_roles(roles: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> list[str]:
    known = {r.value for r in Role}
    out: list[str] = []
    for r in roles:
        value = str(r)
        if value not in known:
            raise InvalidInput(f"roles: unknown role {value!r} (known: {', '.join(sorted(known))})",
                               field="roles")
        if value not in out:
            out.append(value)
    return out


def _validate_username(session: Session, username: str) -> None:
    if not username or len(username) > 60 or any(c.isspace() for c in username):
        raise InvalidInput("username: 1–60 characters without spaces are required", field="username")
    if session.execute(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"username: {username!r} already exists", field="username")


def _default_lab_id(session: Session, lab_id: int | None) -> int:
    if lab_id is not None:
        if session.get(Lab, lab_id) is None:
            raise NotFound(f"lab_id: lab {lab_id} does not exist", field="lab_id")
        return lab_id
    ids = session.execute(select(Lab.id).limit(2)).scalars().all()
    if len(ids) != 1:
        raise InvalidInput("lab_id: required when the database holds no lab or several labs", field="lab_id")
    return ids[0]


def create_user(session: Session, username: str, full_name: str, password: str,
                roles: list[str] | tuple[str, ...] | set[str] | frozenset[str], *,
                lab_id: int | None = None) -> User:
    """Create a person's account (argon2id hash; password policy of this module)."""
    _validate_username(session, username)
    if not full_name.strip():
        raise InvalidInput("full_name: required (it is printed in e-signatures)", field="full_name")
    role_values = _parse_roles(roles)
    check_password_policy(password, username=username)
    user = User(lab_id=_default_lab_id(session, lab_id), username=username, full_name=full_name.strip(),
                password_hash=hash_password(password), roles=[UserRole(role=r) for r in role_values])
    session.add(user)
    session.flush()
    return user


def create_service_user(session: Session, username: str, full_name: str,
                        roles: list[str] | tuple[str, ...] | set[str] | frozenset[str], *,
                        lab_id: int | None = None) -> User:
    """Create an account for an instrument or a hub: it has no password and holds API keys only."""
    _validate_username(session, username)
    role_values = _parse_roles(roles)
    user = User(lab_id=_default_lab_id(session, lab_id), username=username, full_name=full_name.strip() or username,
                password_hash=SERVICE_PASSWORD_HASH, roles=[UserRole(role=r) for r in role_values])
    session.add(user)
    session.flush()
    return user


def is_service_user(user: User) -> bool:
    return user.password_hash == SERVICE_PASSWORD_HASH


def set_password(session: Session, user: User, new_password: str) -> None:
    """Change a person's password and revoke their UI sessions."""
    if is_service_user(user):
        raise InvalidInput("password: a service user has no password", field="password")
    check_password_policy(new_password, username=user.username)
    user.password_hash = hash_password(new_password)
    for tok in session.execute(select(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.kind == TokenKind.SESSION,
            ApiToken.revoked.is_(False))).scalars():
        tok.revoked = True
    session.flush()


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"username: user {username!r} does not exist", field="username")
    return user


# ---------------------------------------------------------------------------------------------- login


def throttle_state(session: Session, username: str, *, now: dt.datetime | None = None,
                   settings: Settings | None = None) -> dt.datetime | None:
    """When the username may try again, or None when it is not throttled."""
    settings = settings or get_settings()
    now = now or utcnow()
    limit = max(1, settings.login_max_failures)
    recent = session.execute(
        select(LoginFailure.at).where(LoginFailure.username == username, LoginFailure.at > now - THROTTLE_WINDOW)
        .order_by(LoginFailure.at.desc()).limit(limit)).scalars().all()
    if len(recent) < limit:
        return None
    # Allowed again once the `limit`-th most recent failure has left the window.
    oldest_counted = _aware(recent[-1])
    assert oldest_counted is not None
    return oldest_counted + THROTTLE_WINDOW


_dummy_hash: str | None = None


def _burn_verify(password: str) -> None:
    """Spend one argon2 verification so an unknown username costs as much as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("unknown-user-dummy-password")
    verify_password(_dummy_hash, password)


def _record_failure(session: Session, username: str, remote: str, at: dt.datetime) -> None:
    """Persist a failed attempt even though the caller's unit of work will roll back."""
    session.add(LoginFailure(username=username[:60], remote=remote[:60], at=at))
    session.commit()


def login(session: Session, username: str, password: str, *, remote: str = "",
          kind: TokenKind = TokenKind.SESSION, label: str = "", settings: Settings | None = None,
          now: dt.datetime | None = None) -> tuple[User, IssuedToken]:
    """Check a username and password; on success issue a UI session (or, with ``kind=bearer``, an API token).

    Raises :class:`LoginThrottled` (before looking at the password) when the username has more than
    ``login_max_failures`` failures in :data:`THROTTLE_WINDOW`, and :class:`AuthenticationError` for a
    wrong username/password or a disabled account. A failure is committed before the error is raised,
    so the caller's rollback cannot erase it.
    """
    settings = settings or get_settings()
    now = now or utcnow()
    if kind not in (TokenKind.SESSION, TokenKind.BEARER):
        raise InvalidInput("kind: a login issues a session or a bearer token", field="kind")
    if not username or len(username) > 60:  # no such account can exist (User.username is String(60))
        raise AuthenticationError(_GENERIC_FAILURE)
    retry_at = throttle_state(session, username, now=now, settings=settings)
    if retry_at is not None:
        raise LoginThrottled(username, retry_at, now)
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        _burn_verify(password)
        _record_failure(session, username, remote, now)
        raise AuthenticationError(_GENERIC_FAILURE)
    if not verify_password(user.password_hash, password):
        _record_failure(session, username, remote, now)
        raise AuthenticationError(_GENERIC_FAILURE)
    if not user.active:
        raise AuthenticationError(f"登录失败：账户已停用 / login refused: account {username!r} is disabled")
    minutes = settings.session_minutes if kind == TokenKind.SESSION else BEARER_DEFAULT_DAYS * 24 * 60
    issued = issue_token(session, user, kind, expires_at=now + dt.timedelta(minutes=minutes),
                         label=label or f"login {remote}".strip())
    session.info["actor"] = user.username  # from here on the audit trail names the person
    _audit(session, "login", user, {"remote": remote, "token_kind": str(kind), "token_id": issued.token_id})
    session.flush()
    return user, issued


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
    """A bearer token for ``actor`` themselves, or — by an administrator — for another person."""
    owner = for_user or actor
    if owner.id != actor.id and not _may_manage_users(actor):
        raise Forbidden(f"username: only an administrator may create a token for {owner.username!r}",
                        field="username")
    if is_service_user(owner):
        raise InvalidInput("kind: a service user holds API keys, not bearer tokens", field="kind")
    if not owner.active:
        raise InvalidInput(f"username: account {owner.username!r} is disabled", field="username")
    days = BEARER_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= BEARER_MAX_DAYS:
        raise InvalidInput(f"expires_days: between 1 and {BEARER_MAX_DAYS} (got {days})", field="expires_days")
    now = now or utcnow()
    issued = issue_token(session, owner, TokenKind.BEARER, expires_at=now + dt.timedelta(days=days),
                         label=label or f"bearer by {actor.username}")
    return issued


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
        _audit(session, "revoke", actor, {"token_id": row.id, "token_kind": row.kind})
        session.flush()


def active_tokens(session: Session, user: User, *, now: dt.datetime | None = None) -> list[ApiToken]:
    """The user's tokens that are neither revoked nor expired (digests only, never the tokens)."""
    now = now or utcnow()
    rows = session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
                           .order_by(ApiToken.id)).scalars().all()
    return [r for r in rows if (_aware(r.expires_at) or now + dt.timedelta(seconds=1)) > now]
