"""lims.clock: now is aware UTC; naive stored instants are read as UTC."""

from __future__ import annotations

import datetime as dt

from lims.clock import as_utc, utcnow


def test_utcnow_is_aware_utc() -> None:
    before = dt.datetime.now(dt.UTC)
    now = utcnow()
    assert now.tzinfo is dt.UTC and before <= now <= dt.datetime.now(dt.UTC)


def test_as_utc_reads_naive_as_utc_and_converts_aware() -> None:
    naive = dt.datetime(2026, 11, 28, 8, 30)
    assert as_utc(naive) == dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)
    beijing = dt.datetime(2026, 11, 28, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    converted = as_utc(beijing)
    assert converted.tzinfo is dt.UTC and converted.hour == 8 and converted == beijing
