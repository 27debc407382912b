"""Pieces shared by the read models."""

from __future__ import annotations

import datetime as dt

from typing_extensions import TypedDict


def iso(value: dt.datetime | None) -> str | None:
    """A stored instant as ISO-8601 (as stored: naive values are UTC), None as None."""
    return value.isoformat() if value is not None else None


class PageOf(TypedDict):
    """A page of a list: the rows, the capped count of matches, the window asked for."""

    items: list[object]
    total: int
    limit: int
    offset: int
    total_exact: bool
