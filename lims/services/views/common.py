"""Pieces shared by the read models."""

from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    """A stored instant as ISO-8601 (as stored: naive values are UTC), None as None."""
    return value.isoformat() if value is not None else None
