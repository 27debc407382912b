"""Monthly partitions of ``hub_message`` and ``hub_result`` on PostgreSQL (declarative partitioning,
migration 0019_hub creates the partitioned parents and a default partition).

A hub adds the partitions of the current and the next month when it starts (``ensure_partitions``), so rows
land in their month's partition; a month nobody created lands in the default partition. SQLite: no-op.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

PARTITIONED = ("hub_message", "hub_result")
#: Child tables of the partitioned parents (left out of the models ↔ migrations comparison).
CHILD_NAME = re.compile(r"^hub_(message|result)_(default|p\d{6})$")


def is_partition_child(name: str | None) -> bool:
    return bool(name) and bool(CHILD_NAME.match(name or ""))


def _month_start(day: dt.date, add: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + add
    return dt.date(index // 12, index % 12 + 1, 1)


def ensure_partitions(engine: Engine, today: dt.date | None = None, months_ahead: int = 1) -> list[str]:
    """Create the missing monthly partitions from this month to ``months_ahead`` later; the names created."""
    if engine.dialect.name != "postgresql":
        return []
    today = today or dt.datetime.now(dt.UTC).date()
    created: list[str] = []
    for add in range(months_ahead + 1):
        lo, hi = _month_start(today, add), _month_start(today, add + 1)
        for parent in PARTITIONED:
            name = f"{parent}_p{lo:%Y%m}"
            sql = (f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {parent} "
                   f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')")
            try:
                with engine.begin() as conn:
                    if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None:
                        conn.execute(text(sql))
                        created.append(name)
            except DBAPIError:  # another hub process created it meanwhile, or the default holds rows of it
                continue
    return created
