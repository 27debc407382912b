"""Small pieces the complaint, document and limit-row pages share: a refusal with its field in words, a text
longer than its column refused before the database would, a record read or None when it does not exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException
from sqlalchemy.orm import Session, sessionmaker

from api.deps import read_service
from lims.services.errors import InvalidInput

T = TypeVar("T")


def named(error: dict[str, Any] | None, fields: dict[str, tuple[str, str]]) -> dict[str, Any] | None:
    """A refusal as shown (:func:`api.ui.base.ui_error`) with its field in the user's words (``fields``)."""
    if error and error.get("field") in fields:
        error["field_zh"], error["field_en"] = fields[error["field"]]
    return error


def check_lengths(form: dict[str, Any], longest: dict[str, int]) -> None:
    """Refuse a text longer than its column holds (the field named), before the database would."""
    for name, most in longest.items():
        if len(str(form.get(name) or "")) > most:
            raise InvalidInput(f"{name} is longer than {most} characters", field=name, code="ui.too_long")


def read_record(factory: sessionmaker[Session], fn: Callable[[Session], T]) -> T | None:
    """``fn`` in a read-only session; None when it answers "not found" (a 404 page, not a 500)."""
    try:
        return read_service(factory, fn)
    except HTTPException as e:
        if e.status_code == 404:
            return None
        raise
