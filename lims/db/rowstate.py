"""Rows a certificate rests on, checked against the audit trail.

The trail records every create (full snapshot), update (changed columns) and delete of these tables, so
replaying it gives the state each row must have now. :class:`RowReplay` is fed event by event while the
chain is verified (one pass, streamed) and then compares every covered row of the database with its
replayed state: a row changed, deleted or inserted without an event — a direct SQL edit behind the
application — is named. Secret columns are compared through their fingerprints (lims.db.audit.SECRET_FIELDS).

Limit (documented): a column added by a later migration is absent from the snapshots of rows created
before it, so its value in those rows is compared only once an event has recorded it. A migration that
changes existing values of a covered table writes its events (lims.db.audit.append_events_on), or verify names
the rows it changed. (outbox_item is not covered: 0017 fills it without events; the message it maps, with its
payload, is.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from lims.db.audit import canonical_json, redact_snapshot
from lims.db.models import Base

#: Tables that decide what a certificate says or who may sign it (the lab, accounts and roles, methods and
#: signatories, reference data and limits, samples and producers, analyses, batches, QC, curves, results,
#: signatures, reports and the outbox that carries them upstream).
COVERED_TABLES: tuple[str, ...] = (
    "lab", "user_account", "user_role", "method", "method_scope", "method_signatory", "analyte", "commodity",
    "limit_entry", "producer", "monitoring_task", "sample", "batch", "analysis", "qc_sample",
    "calibration_curve", "method_qc", "method_validation", "result", "signature", "report", "outbox_message",
)
#: At most this many problems are listed (the first names what broke).
MAX_PROBLEMS = 20


@dataclass
class RowReplay:
    """State of every covered row as the trail says it is: {(table, record_id): {column key: value}}."""

    state: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    def __call__(self, seq: int, action: str, table: str, record_id: str, old: str, new: str) -> None:
        if table not in _COVERED:
            return
        key = (table, record_id)
        try:
            values = json.loads(new) if new else {}
        except ValueError:
            self.unreadable.append(f"audit event seq {seq} ({table} {record_id}): recorded values are not JSON")
            return
        if action == "create":
            self.state[key] = values
        elif action == "update":
            self.state.setdefault(key, {}).update(values)
        elif action == "delete":
            self.state.pop(key, None)

    def compare(self, session: Session) -> list[str]:
        """Problems found comparing every covered row with its replayed state (first MAX_PROBLEMS)."""
        problems: list[str] = self.unreadable[:MAX_PROBLEMS]
        for table in COVERED_TABLES:
            problems.extend(self._compare_table(session, table, MAX_PROBLEMS - len(problems)))
            if len(problems) >= MAX_PROBLEMS:
                break
        return problems

    def _row_problem(self, table: str, record_id: str, snap: dict[str, Any]) -> str | None:
        expected = self.state.get((table, record_id))
        if expected is None:
            return f"{table} {record_id} exists but the audit trail never recorded it (inserted behind the application)"
        current = json.loads(canonical_json(redact_snapshot(table, snap)))
        changed = sorted(k for k, v in expected.items() if k in current and current[k] != v)
        if changed:
            return (f"{table} {record_id}: {', '.join(changed)} not as the audit trail records "
                    "(changed behind the application)")
        return None

    def _compare_table(self, session: Session, table: str, room: int) -> list[str]:
        mapper = _MAPPERS.get(table)
        if mapper is None or room <= 0:
            return []
        keys = {col.name: prop.key for prop in mapper.column_attrs for col in prop.columns}
        pk = [c.name for c in mapper.local_table.primary_key.columns]
        seen: set[str] = set()
        problems: list[str] = []
        conn = session.connection()
        present = {c["name"] for c in inspect(conn).get_columns(table)}  # a database behind the models still verifies
        columns = [c for c in mapper.local_table.columns if c.name in present]
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(
            select(*columns).order_by(*mapper.local_table.primary_key.columns))
        for row in result.mappings():
            record_id = ",".join(str(row[c]) for c in pk)
            seen.add(record_id)
            problem = self._row_problem(table, record_id, {keys[k]: v for k, v in row.items() if k in keys})
            if problem:
                problems.append(problem)
                if len(problems) >= room:
                    return problems
        for (t, record_id) in self.state:
            if t == table and record_id not in seen:
                problems.append(f"{table} {record_id} is recorded in the audit trail but missing from the "
                                f"database (deleted behind the application)")
                if len(problems) >= room:
                    break
        return problems


_COVERED = frozenset(COVERED_TABLES)
_MAPPERS_CACHE: dict[str, Any] = {}


class _Mappers:
    """The ORM mapper of each covered table (looked up once every model module is imported)."""

    def get(self, table: str) -> Any:
        if not _MAPPERS_CACHE:
            import lims.db.models_method  # noqa: F401
            import lims.db.models_system  # noqa: F401

            _MAPPERS_CACHE.update({m.local_table.name: m for m in Base.registry.mappers
                                   if m.local_table.name in _COVERED})
        return _MAPPERS_CACHE.get(table)


_MAPPERS = _Mappers()
