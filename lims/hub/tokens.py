"""Hub operator tokens: bearer tokens for the hub's read and registry API (``lims hub token create|revoke``).

The token is shown once at creation; only its SHA-256 is stored. A revoked token no longer authenticates;
creating a token under a revoked name issues a new one. Services take a Session and never commit.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models_hub import HubToken
from lims.services.errors import InvalidInput, NotFound


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(s: Session, name: str) -> str:
    """A new random token for operator ``name`` (returned once; the hub keeps its SHA-256)."""
    if not name or len(name) > 60 or not name.isprintable() or name.strip() != name:
        raise InvalidInput("token name: 1 to 60 printable characters", code="hub.token_name_invalid", field="name")
    row = s.execute(select(HubToken).where(HubToken.name == name)).scalar_one_or_none()
    if row is not None and row.revoked_at is None:
        raise InvalidInput(f"token {name!r} exists; revoke it first", code="hub.token_exists", field="name")
    token = secrets.token_urlsafe(32)
    if row is None:
        s.add(HubToken(name=name, token_sha256=_digest(token), created_at=utcnow()))
    else:
        row.token_sha256, row.created_at, row.revoked_at = _digest(token), utcnow(), None
    s.flush()
    return token


def revoke_token(s: Session, name: str) -> None:
    row = s.execute(select(HubToken).where(HubToken.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no hub token named {name!r}", code="hub.token_not_found", field="name")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    s.flush()


def operator_for(s: Session, token: str) -> str | None:
    """The name of the operator whose active token this is, None otherwise."""
    if not token:
        return None
    row = s.execute(select(HubToken).where(HubToken.token_sha256 == _digest(token))).scalar_one_or_none()
    return row.name if row is not None and row.revoked_at is None else None
