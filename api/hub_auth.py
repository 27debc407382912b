"""Hub operator authentication: the hub's read and registry routes require ``Authorization: Bearer <token>``
(a token from ``lims hub token create``; lims.hub.tokens). Missing, malformed, unknown or revoked: 401
problem+json with ``WWW-Authenticate: Bearer``. The signed lab routes authenticate by signature instead."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from api.deps import FactoryDep
from lims.hub import tokens
from lims.hub.rules import Problem, Refused


def operator(request: Request, factory: FactoryDep) -> str:
    """The name of the operator whose bearer token the request carries; Refused (401) otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(Problem(401, "auth.token_missing", "需要操作员令牌 / operator token required",
                              "send Authorization: Bearer <token> (lims hub token create)"))
    with factory() as s:
        name = tokens.operator_for(s, token.strip())
    if name is None:
        raise Refused(Problem(401, "auth.token_invalid", "令牌无效或已吊销 / invalid or revoked token",
                              "the bearer token is unknown or revoked"))
    return name


OperatorDep = Annotated[str, Depends(operator)]
OPERATOR = [Depends(operator)]


def install(app: FastAPI) -> None:
    """Refused raised in a dependency or route → its problem+json answer."""
    async def refused(request: Request, exc: Exception) -> JSONResponse:
        problem = exc.problem  # type: ignore[attr-defined]
        headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else {}
        return JSONResponse(problem.body(), status_code=problem.status, headers=headers,
                            media_type="application/problem+json")

    app.add_exception_handler(Refused, refused)
