"""Shared FastAPI dependencies: one session factory per app; the route owns the unit of work
(:func:`run_service` for a write, :func:`read_service` for a read), services take a Session and never commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from calibration.errors import CalibrationError
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.security import AuthenticationError
from lims.services.errors import ServiceError


async def get_factory(request: Request) -> sessionmaker[Session]:
    """Async because it does no I/O: a sync dependency would cost a thread-pool hop per request."""
    return request.app.state.session_factory  # type: ignore[no-any-return]


FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]


T = TypeVar("T")


def service_error(e: ServiceError) -> HTTPException:
    """A service error as a 4xx naming the field: ``detail = {"message", "field", "code"}``.

    ``code`` is the stable name of the refusal (lims.services.errors; None when the raise site gives none):
    clients branch on it, the message is for people."""
    detail: dict[str, Any] = {"message": str(e), "field": e.field, "code": e.code}
    problems = getattr(e, "problems", None)
    if problems:  # the first LIMS_MAX_PROBLEMS only (a 13 MB CSV once answered 87 MB), and how many there were
        cap = max(1, get_settings().max_problems)
        detail["problems"] = [{"line": p.line, "field": p.field, "message": p.message} for p in problems[:cap]]
        detail["problems_total"] = len(problems)
    return HTTPException(e.status_code, detail=detail)


def run_service(factory: sessionmaker[Session], actor: str, reason: str, fn: Callable[[Session], T]) -> T:
    """One unit of work for a write: commits on success; a refused request writes nothing."""
    try:
        with session_scope(factory, actor=actor, reason=reason) as s:
            return fn(s)
    except ServiceError as e:
        raise service_error(e) from None
    except AuthenticationError as e:  # an e-signature with the wrong password, or too many of them
        retry_after = getattr(e, "retry_after_s", None)
        if retry_after is not None:
            raise HTTPException(429, detail={"message": str(e), "field": "password", "code": e.code},
                                headers={"Retry-After": str(retry_after)}) from None
        raise HTTPException(403, detail={"message": str(e), "field": "password", "code": e.code}) from None
    except CalibrationError as e:
        raise HTTPException(422, detail={"message": str(e), "field": getattr(e, "field", None),
                                         "code": None}) from None


def read_service(factory: sessionmaker[Session], fn: Callable[[Session], T]) -> T:
    """A read: a read-only session (no transaction round trips, refuses to write)."""
    try:
        with getattr(factory, "read", factory)() as s:
            return fn(s)
    except ServiceError as e:
        raise service_error(e) from None
