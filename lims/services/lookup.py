"""Records named by their code: one lookup for every service and route.

``get_by_code`` raises the typed :class:`~lims.services.errors.NotFound` (stable code ``not_found``, HTTP
404) naming the request field; ``find_by_code`` answers None; ``known_by_code`` is for a reference named in
a request body (a commodity, an analyte, a method…), where an unknown code is bad input (422), not a
missing resource. ``code_exists`` checks a new record's code before it is taken.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.services.errors import InvalidInput, NotFound

#: A mapped class with a unique ``code`` column.
M = TypeVar("M")


def _what(model: Any) -> str:
    return str(model.__tablename__).replace("_", " ")


def find_by_code(s: Session, model: type[M], code: str, *where: Any) -> M | None:
    """The ``model`` row whose ``code`` is ``code`` (within the extra ``where`` clauses), or None."""
    return s.execute(select(model).where(model.code == code, *where)).scalars().first()  # type: ignore[attr-defined]


def get_by_code(s: Session, model: type[M], code: str, *where: Any, field: str = "code",
                what: str | None = None) -> M:
    """The ``model`` row whose ``code`` is ``code``; absent → NotFound("<what> <code> does not exist")."""
    row = find_by_code(s, model, code, *where)
    if row is None:
        raise NotFound(f"{what or _what(model)} {code} does not exist", field=field)
    return row


def known_by_code(s: Session, model: type[M], code: str, *, field: str, what: str | None = None) -> M:
    """A reference named by its code in a request; unknown → InvalidInput naming the field."""
    row = find_by_code(s, model, code)
    if row is None:
        raise InvalidInput(f"unknown {what or _what(model)} {code!r}", field=field)
    return row


def code_exists(s: Session, model: Any, code: str) -> bool:
    """Whether a row of ``model`` already carries ``code`` (one indexed key lookup, no row loaded)."""
    return s.execute(select(model.id).where(model.code == code)).first() is not None
