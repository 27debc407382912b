"""List pages on the wire: documented in OpenAPI by their row type, serialised in one pass.

A list route returns :class:`PageJSON` (pydantic-core writes the page's dicts straight to JSON: no
validation pass, no second encoding) and declares ``responses=page_of(Row)`` so that OpenAPI shows
the page's shape with its row type.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import pydantic_core
from fastapi import Response
from pydantic import BaseModel, Field

from lims.services import queries

Row = TypeVar("Row")


class PageOf(BaseModel, Generic[Row]):
    """A page of a list: its rows, the matches counted up to offset + 1,000, the window asked for."""

    items: list[Row]
    total: int = Field(description="matches counted up to offset + 1,000 / 计数上限")
    limit: int
    offset: int
    total_exact: bool = Field(description="false: there are more than ``total`` matches")


def page_of(row: Any) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a list route whose rows are ``row`` (a TypedDict or a model)."""
    return {200: {"model": PageOf[row]}}  # type: ignore[valid-type]


class PageJSON(Response):
    """A list page as JSON, serialised in one pass by pydantic-core (a returned dict would be validated
    and converted by FastAPI, then encoded again by the json module: three passes over every row)."""

    media_type = "application/json"

    def __init__(self, page: queries.Page) -> None:
        super().__init__(pydantic_core.to_json(page.__dict__))


#: The ``responses=`` of a route that answers a PDF file.
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
          "description": "the PDF file"}}
