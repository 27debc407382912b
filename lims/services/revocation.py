"""The revocation counter (table ``auth_generation``, one row): every revocation, disabled account, role
or password change raises it in the same transaction, and an API worker re-reads a token it has cached
only while the counter it saw has not moved — so a revoked token stops working in every worker at the
next request instead of after the cache time (``LIMS_AUTH_CACHE_SECONDS``).

The counter is written with plain SQL (an upsert), not through the ORM: it is a cache key, not a
record, and is not echoed into the audit trail (the revocation itself is)."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lims.db.models import AuthGeneration

_ROW = 1


def bump_generation(session: Session) -> None:
    """Raise the counter in the caller's transaction."""
    conn = session.connection()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(AuthGeneration).values(id=_ROW, generation=1)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                            set_={"generation": AuthGeneration.generation + 1}))


def current_generation(session: Session) -> int:
    """The counter (0 before the first revocation); one primary-key read."""
    value = session.execute(select(AuthGeneration.generation).where(AuthGeneration.id == _ROW)).scalar()
    return int(value or 0)


_GENERATION = select(AuthGeneration.generation).where(AuthGeneration.id == _ROW)


def generation_on(conn: Connection) -> int:
    """:func:`current_generation` on a bare connection (no ORM session: the per-request check)."""
    return int(conn.execute(_GENERATION).scalar() or 0)
