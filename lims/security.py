"""Passwords (argon2id), e-signature re-authentication, API tokens."""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lims.config import get_settings


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    """argon2id with the library's defaults (RFC 9106 low-memory profile) unless the deployment sets
    LIMS_ARGON2_TIME_COST / LIMS_ARGON2_MEMORY_KIB (the test suite lowers them to save CPU)."""
    settings = get_settings()
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)


class AuthenticationError(PermissionError):
    """Wrong credentials, locked account, or missing authority; ``code`` as in lims.services.errors."""

    def __init__(self, *args: object, code: str | None = None) -> None:
        super().__init__(*args)
        self.code = code


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password: at least 8 characters are required")
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()
