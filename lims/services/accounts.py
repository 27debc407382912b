"""Accounts: people and service accounts, the password policy, usernames, and the account life cycle
(disable/enable, password change by the user, reset by an administrator, role changes) — all audited.

Password policy (NIST SP 800-63B §5.1.1.2: length, no composition rules, refuse known-bad values): at
least :data:`MIN_PASSWORD_LENGTH` characters, at most :data:`MAX_PASSWORD_LENGTH`, not containing the
username, not one repeated character, not one of the 30,000 most common passwords (the list the
``zxcvbn`` package ships, ``zxcvbn.frequency_lists.FREQUENCY_LISTS["passwords"]``, MIT licence, drawn
from leaked-password corpora) nor of :data:`BLOCKED_PASSWORDS` (obvious choices for this product).

Usernames are normalised (Unicode NFKC, surrounding spaces dropped), may not hold control, format
(bidi, zero-width) or space characters nor ``:`` (reserved: a service account acts as ``service:NAME``),
and are unique whatever their case (database index on ``lower(username)``, migration
0014_account_lifecycle); logins find the account whatever case is typed.

A service account (``User.kind == "service"``) has no password, holds API keys only and never signs: an
administrator gives a program access by creating one, never by making a token for a person.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.db.audit import append_events
from lims.db.models import ApiToken, Lab, Role, User, UserRole
from lims.security import hash_password, verify_password
from lims.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from lims.services.revocation import bump_generation
from lims.text import printable_problem
from lims.vocabulary import UserKind

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
USERNAME_MAX = 60
#: Prefix of a service account's name as a principal and in the audit trail (``service:gc-01``).
SERVICE_PREFIX = "service:"
#: Obvious choices for this product, refused on top of the common-password list (lower-cased).
BLOCKED_PASSWORDS = frozenset({
    "1234567890", "12345678910", "0123456789", "9876543210", "qwertyuiop", "1q2w3e4r5t",
    "password123", "password1234", "passw0rd123", "admin12345", "admin123456", "administrator",
    "iloveyou123", "abc1234567", "abcdefghij", "a123456789", "woaini1314", "changeme123",
    "welcome123", "letmein123", "lims123456", "lims@123456", "lims12345678", "123456789012",
    "qwertyuiop123", "1qaz2wsx3edc", "woaini5201314", "administrator1",
})
#: ``password_hash`` of a service account: not an argon2 hash, so no password ever verifies.
SERVICE_PASSWORD_HASH = "!service-account"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The common-password list (see the module docstring), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"]) | BLOCKED_PASSWORDS


def _audit(session: Session, action: str, user: User, detail: dict[str, object]) -> None:
    session.flush()
    append_events(session, [(action, User.__tablename__, str(user.id), None,
                             {"username": user.username, **detail})])


# ---------------------------------------------------------------------------------------------- rules


def check_password_policy(password: str, *, username: str = "") -> None:
    """Raise :class:`InvalidInput` (field ``password``, code ``auth.weak_password``) naming the rule broken."""
    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"password: {why}", field="password", code="auth.weak_password")

    if len(password) < MIN_PASSWORD_LENGTH:
        raise refuse(f"at least {MIN_PASSWORD_LENGTH} characters are required (got {len(password)})")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise refuse(f"at most {MAX_PASSWORD_LENGTH} characters are allowed")
    if len(set(password)) == 1:
        raise refuse("a single repeated character is not allowed")
    if username and username.casefold() in password.casefold():
        raise refuse("must not contain the username")
    if password.lower() in common_passwords():
        raise refuse("this password is too common (it is on a list of leaked passwords)")


def _bad_character(c: str) -> bool:
    return c.isspace() or c == ":" or unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def normalise_username(raw: str) -> str:
    """NFKC, trimmed; :class:`InvalidInput` (field ``username``) for an empty, over-long or unsafe name."""
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name or len(name) > USERNAME_MAX:
        raise InvalidInput(f"username: 1–{USERNAME_MAX} characters are required", field="username",
                           code="auth.bad_username")
    bad = next((c for c in name if _bad_character(c)), None)
    if bad is not None:
        raise InvalidInput(f"username: character U+{ord(bad):04X} is not allowed (no spaces, control or "
                           "invisible characters, no ':')", field="username", code="auth.bad_username")
    return name


def find_user(session: Session, username: str) -> User | None:
    """The account of ``username`` whatever its case (``service:NAME`` finds a service account)."""
    service = username.startswith(SERVICE_PREFIX)
    name = username[len(SERVICE_PREFIX):] if service else username
    try:
        name = normalise_username(name)
    except InvalidInput:
        return None
    user = session.execute(select(User).where(func.lower(User.username) == func.lower(name))).scalar_one_or_none()
    if user is None or (service and not is_service_user(user)):
        return None
    return user


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"username: user {username!r} does not exist", field="username")
    return user


def principal_name(user: User) -> str:
    """How the account appears as an actor: its username, or ``service:NAME`` for a service account."""
    return SERVICE_PREFIX + user.username if is_service_user(user) else user.username


def is_service_user(user: User) -> bool:
    return user.kind == UserKind.SERVICE or user.password_hash == SERVICE_PASSWORD_HASH


def parse_roles(roles: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> list[str]:
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


def _new_username(session: Session, raw: str) -> str:
    name = normalise_username(raw)
    if find_user(session, name) is not None:
        raise Conflict(f"username: {name!r} already exists (usernames are compared without case)",
                       field="username")
    return name


def _default_lab_id(session: Session, lab_id: int | None) -> int:
    if lab_id is not None:
        if session.get(Lab, lab_id) is None:
            raise NotFound(f"lab_id: lab {lab_id} does not exist", field="lab_id")
        return lab_id
    ids = session.execute(select(Lab.id).limit(2)).scalars().all()
    if len(ids) != 1:
        raise InvalidInput("lab_id: required when the database holds no lab or several labs", field="lab_id")
    return ids[0]


# ---------------------------------------------------------------------------------------------- creation


def create_user(session: Session, username: str, full_name: str, password: str,
                roles: list[str] | tuple[str, ...] | set[str] | frozenset[str], *,
                lab_id: int | None = None) -> User:
    """Create a person's account (argon2id hash; the password policy of this module)."""
    name = _new_username(session, username)
    if not full_name.strip():
        raise InvalidInput("full_name: required (it is printed in e-signatures)", field="full_name")
    if unprintable := printable_problem(full_name.strip()):  # printed on every report it signs (issue 11)
        raise InvalidInput(f"full_name: {unprintable}", field="full_name")
    role_values = parse_roles(roles)
    check_password_policy(password, username=name)
    user = User(lab_id=_default_lab_id(session, lab_id), username=name, full_name=full_name.strip(),
                password_hash=hash_password(password), kind=UserKind.PERSON.value,
                roles=[UserRole(role=r) for r in role_values])
    session.add(user)
    session.flush()
    return user


def create_service_user(session: Session, username: str, full_name: str,
                        roles: list[str] | tuple[str, ...] | set[str] | frozenset[str], *,
                        lab_id: int | None = None) -> User:
    """A service account for an instrument, a hub or a script: no password, API keys only, never signs."""
    name = _new_username(session, username)
    role_values = parse_roles(roles)
    user = User(lab_id=_default_lab_id(session, lab_id), username=name, full_name=full_name.strip() or name,
                password_hash=SERVICE_PASSWORD_HASH, kind=UserKind.SERVICE.value,
                roles=[UserRole(role=r) for r in role_values])
    session.add(user)
    session.flush()
    return user


# ---------------------------------------------------------------------------------------------- life cycle


def _revoke_all(session: Session, user: User, *, keep_token_id: int | None = None,
                kinds: tuple[str, ...] | None = None) -> int:
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
    if kinds is not None:
        query = query.where(ApiToken.kind.in_(kinds))
    n = 0
    for tok in session.execute(query).scalars():
        if tok.id != keep_token_id:
            tok.revoked = True
            n += 1
    bump_generation(session)
    return n


def _require_admin(actor: User | None) -> str:
    """The administrator's name for the audit trail; ``None`` is the operator at the server's console
    (``lims user ...``, who holds the database itself)."""
    if actor is None:
        return "console"
    if Role.ADMIN not in actor.role_names or not actor.active or is_service_user(actor):
        raise Forbidden("only an administrator may manage accounts", field="username", code="auth.not_admin")
    return actor.username


def _keeps_an_admin(session: Session, user: User, *, losing_admin: bool) -> None:
    """Refuse to disable or demote the last active administrator (nobody could manage accounts again)."""
    if not losing_admin or Role.ADMIN not in user.role_names or not user.active:
        return
    others = session.execute(select(func.count()).select_from(User).join(UserRole).where(
        UserRole.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id,
        User.kind == UserKind.PERSON.value)).scalar_one()
    if others == 0:
        raise Conflict(f"username: {user.username!r} is the last active administrator", field="username",
                       code="auth.last_admin")


def set_active(session: Session, actor: User | None, user: User, active: bool, *, reason: str = "") -> None:
    """Disable (every token revoked at once, in every worker) or enable an account; audited."""
    by = _require_admin(actor)
    if user.active == active:
        return
    if not active:
        if actor is not None and user.id == actor.id:
            raise Conflict("username: you cannot disable your own account", field="username",
                           code="auth.self_disable")
        _keeps_an_admin(session, user, losing_admin=True)
        _revoke_all(session, user)
    user.active = active
    bump_generation(session)
    _audit(session, "user.enable" if active else "user.disable", user, {"by": by, "reason": reason})


def set_roles(session: Session, actor: User | None, user: User,
              roles: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> list[str]:
    """Replace an account's roles; audited (old → new); cached permissions end at once."""
    by = _require_admin(actor)
    wanted = parse_roles(roles)
    before = sorted(user.role_names)
    _keeps_an_admin(session, user, losing_admin=Role.ADMIN.value not in wanted)
    keep = [r for r in user.roles if r.role in wanted]
    user.roles = keep + [UserRole(role=r) for r in wanted if r not in {k.role for k in keep}]
    session.flush()
    bump_generation(session)
    _audit(session, "user.roles", user, {"by": by, "old": before, "new": sorted(wanted)})
    return sorted(wanted)


def _store_password(user: User, new_password: str) -> None:
    if is_service_user(user):
        raise InvalidInput("password: a service account has no password", field="password",
                           code="auth.service_no_password")
    check_password_policy(new_password, username=user.username)
    user.password_hash = hash_password(new_password)


def change_password(session: Session, user: User, old_password: str, new_password: str, *,
                    keep_token_id: int | None = None) -> None:
    """The user's own change, re-entering the old password; every other token of theirs is revoked.
    (The caller throttles the old-password check like a login: lims.services.auth.change_own_password.)"""
    if not verify_password(user.password_hash, old_password):
        raise InvalidInput("old_password: wrong password", field="old_password", code="auth.old_password_wrong")
    if old_password == new_password:
        raise InvalidInput("password: the new password must differ from the old one", field="password",
                           code="auth.weak_password")
    _store_password(user, new_password)
    user.must_change_password = False
    _revoke_all(session, user, keep_token_id=keep_token_id)
    _audit(session, "user.password_change", user, {"by": user.username})


def reset_password(session: Session, actor: User | None, user: User, new_password: str) -> None:
    """An administrator sets a temporary password; the user must change it at the next login."""
    by = _require_admin(actor)
    _store_password(user, new_password)
    user.must_change_password = True
    _revoke_all(session, user)
    _audit(session, "user.password_reset", user, {"by": by})


def set_password(session: Session, user: User, new_password: str) -> None:
    """Set a person's password (set-up tools); revokes their UI sessions."""
    _store_password(user, new_password)
    _revoke_all(session, user, kinds=("session",))
    session.flush()


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.kind, User.username)).scalars())


#: The web UI's languages: zh-CN first (the default), English second.
LANGUAGES = ("zh-CN", "en")


def set_language(session: Session, user: User, language: str) -> None:
    """The user's own choice of the web UI's language (audited like every change of the account)."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language: expected one of {', '.join(LANGUAGES)}", field="language",
                           code="user.language_unknown")
    if user.language != language:
        user.language = language
        bump_generation(session)  # cached principals carry the language: re-read it
        session.flush()
