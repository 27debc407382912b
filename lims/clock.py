"""The one clock of the code base: instants are timezone-aware UTC.

SQLite hands stored instants back naive (they were written as UTC); PostgreSQL hands them back aware.
:func:`as_utc` makes both comparable; Beijing time is a matter of display (reports, UI).
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC instant; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
