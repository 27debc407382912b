"""Append-only, hash-chained audit trail written in the same transaction as the change.

Every insert, update and delete of every ORM record produces an :class:`AuditEvent` with who,
when, what, old → new and why (21 CFR 11.10(e): never obscures the earlier value). Events are
chained: ``hash = SHA-256(prev_hash ‖ canonical event)``; ``seq`` is gap-free, so an edit,
deletion or reordering made directly in the database breaks :func:`verify_chain`.

Secrets are never audited: a column named in :data:`SECRET_FIELDS` (a password hash, a token digest) is
recorded as ``"<redacted: changed; sha256=…>"`` — that it was set or changed, with a fingerprint that lets
``lims audit verify`` compare the row with the trail, never the secret. Events written before that rule
were redacted in place by migration 0013: the redacted event keeps its hash (the chain still links through
it) and a later ``redact`` event (table ``audit_event``, record = the redacted seq) names the secret fields,
the original hash and the SHA-256 of the redacted text; the verifier accepts a redacted event only with
such a record, only for secret fields, and only if its text is exactly the text the record names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NO_VALUE

from lims.clock import as_utc, utcnow
from lims.db.models import FROZEN_RESULT_STATUSES, AuditEvent, Base, Report, Result, ResultStatus
from lims.vocabulary import AuditAction

GENESIS_HASH = "0" * 64
#: Tables whose rows are themselves evidence and are not echoed into the trail: the trail itself, and raw
#: instrument captures (append-only bytes with their SHA-256) with the readings derived from them, written
#: at line rate (justification: lims/acquisition/__init__.py).
_NOT_AUDITED = {AuditEvent.__tablename__, "raw_capture", "reading"}
#: Columns that may still change on a certified result (its reporting life cycle).
_RESULT_MUTABLE_WHEN_FROZEN = {"status"}
_REPORT_MUTABLE_WHEN_ISSUED = {"status"}
#: Advisory lock key that serialises appends to the chain on PostgreSQL.
_PG_CHAIN_LOCK = 0x4C494D53
#: Columns that hold secrets: never written into the trail, only a fingerprint (see the module docstring).
SECRET_FIELDS: dict[str, frozenset[str]] = {
    "user_account": frozenset({"password_hash"}),
    "api_token": frozenset({"digest"}),
}
REDACTED_PREFIX = "<redacted: changed; sha256="
#: The action of a redaction record (its record_id is the seq of the event it redacted).
REDACT_ACTION = str(AuditAction.REDACT)


class ImmutableRecordError(RuntimeError):
    """A certified result or an issued report was about to be changed."""


def canonical_json(obj: Any) -> str:
    return _CANONICAL.encode(obj)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # SQLite hands back naive UTC; PostgreSQL aware: hash both as the same UTC instant.
        return as_utc(value).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest(), "len": len(value)}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def row_snapshot(obj: Base) -> dict[str, Any]:
    """Column values of an ORM object (bytes summarised by their hash)."""
    mapper = inspect(obj).mapper
    return {c.key: getattr(obj, c.key) for c in mapper.column_attrs}


def record_hash(obj: Base) -> str:
    """SHA-256 of a record's canonical content; bound into signatures of that record."""
    snap = row_snapshot(obj)
    for volatile in ("status",):
        snap.pop(volatile, None)
    return hashlib.sha256(canonical_json(snap).encode()).hexdigest()


def redact_secret(value: Any) -> Any:
    """The trail's stand-in for a secret value: that it was set, and a SHA-256 fingerprint (the argon2
    string carries a random salt, so the fingerprint cannot be attacked offline like the hash itself)."""
    if value is None or (isinstance(value, str) and value.startswith(REDACTED_PREFIX)):
        return value
    return REDACTED_PREFIX + hashlib.sha256(str(value).encode()).hexdigest() + ">"


def redact_snapshot(table: str, snap: dict[str, Any] | None) -> dict[str, Any] | None:
    """``snap`` with the table's secret columns replaced by :func:`redact_secret`."""
    secret = SECRET_FIELDS.get(table)
    if snap is None or not secret or not secret & snap.keys():
        return snap
    return {k: (redact_secret(v) if k in secret else v) for k, v in snap.items()}


def event_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, table_name: str,
               record_id: str, old: str, new: str, reason: str) -> str:
    body = canonical_json([seq, at, actor, action, table_name, record_id, old, new, reason])
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _column_keys(mapper: Any) -> frozenset[str]:
    keys = _COLUMN_KEYS.get(mapper)
    if keys is None:
        keys = _COLUMN_KEYS[mapper] = frozenset(a.key for a in mapper.column_attrs)
    return keys


_COLUMN_KEYS: dict[Any, frozenset[str]] = {}


def _changes(obj: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    """Columns whose value changed since load: old → new. Only the attributes SQLAlchemy recorded as
    touched (``committed_state``) are examined, so a 25-column row costs what its changes cost."""
    state = inspect(obj)
    columns = _column_keys(state.mapper)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key, before in state.committed_state.items():
        if key not in columns:
            continue
        after = state.dict.get(key, NO_VALUE)
        if before is NO_VALUE or after is NO_VALUE:
            hist = state.attrs[key].history
            if not hist.has_changes():
                continue
            before = hist.deleted[0] if hist.deleted else None
            after = hist.added[0] if hist.added else None
        elif before == after:
            continue
        old[key] = before
        new[key] = after
    return old, new


def _guard_frozen(obj: Base) -> None:
    """Refuse any change to certified results and issued reports (no code path may do it)."""
    if isinstance(obj, Result):
        hist = inspect(obj).attrs["status"].history
        committed_status = hist.deleted[0] if hist.deleted else obj.status
        if committed_status in FROZEN_RESULT_STATUSES:
            old, new = _changes(obj)
            changed = set(new) - _RESULT_MUTABLE_WHEN_FROZEN
            if changed:
                raise ImmutableRecordError(
                    f"result {obj.id} is {committed_status}: {', '.join(sorted(changed))} cannot change; "
                    "issue a new version instead")
            if "status" in new and not _allowed_result_transition(committed_status, new["status"]):
                raise ImmutableRecordError(
                    f"result {obj.id}: status {committed_status} → {new['status']} is not allowed")
    elif isinstance(obj, Report):
        old, new = _changes(obj)
        changed = set(new) - _REPORT_MUTABLE_WHEN_ISSUED
        if changed or new.get("status", "superseded") != "superseded":
            raise ImmutableRecordError(f"report {obj.report_no} v{obj.version} is issued and cannot change")


def _allowed_result_transition(old: str, new: str) -> bool:
    return (old, new) in {
        (ResultStatus.CERTIFIED, ResultStatus.REPORTED),
        (ResultStatus.CERTIFIED, ResultStatus.SUPERSEDED),
        (ResultStatus.REPORTED, ResultStatus.SUPERSEDED),
    }


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, (Result, Report)):
            _guard_frozen(obj)
    for obj in session.deleted:
        if isinstance(obj, Result) and obj.status in FROZEN_RESULT_STATUSES:
            raise ImmutableRecordError(f"result {obj.id} is {obj.status} and cannot be deleted")
        if isinstance(obj, Report):
            raise ImmutableRecordError(f"report {obj.report_no} is issued and cannot be deleted")


def _after_flush(session: Session, _ctx: Any) -> None:
    pending: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
    for obj in session.new:
        table = obj.__table__.name
        if table in _NOT_AUDITED:
            continue
        pending.append(("create", table, _pk(obj), None, row_snapshot(obj)))
    for obj in session.dirty:
        table = obj.__table__.name
        if table in _NOT_AUDITED:
            continue
        old, new = _changes(obj)
        if new:
            pending.append(("update", table, _pk(obj), old, new))
    for obj in session.deleted:
        table = obj.__table__.name
        if table in _NOT_AUDITED:
            continue
        pending.append(("delete", table, _pk(obj), row_snapshot(obj), None))
    extra = session.info.pop("audit_extra", [])
    pending.extend(extra)
    if pending:
        append_events(session, pending)


def _pk(obj: Base) -> str:
    ident = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(v) for v in ident)


def append_events(session: Session,
                  events: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]]) -> None:
    """Append events to the chain through the session's connection (same transaction)."""
    append_events_on(session.connection(), events, actor=str(session.info.get("actor") or "system"),
                     reason=str(session.info.get("reason") or ""))


def append_events_on(conn: Any,
                     events: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]], *,
                     actor: str, reason: str) -> None:
    """Append events through a Connection (a migration's, or a session's); secrets are redacted here, so
    no caller can put one into the trail."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    last = conn.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS_HASH)
    at = utcnow().isoformat(timespec="microseconds")
    rows = []
    for action, table, record_id, old, new in events:
        seq += 1
        old, new = redact_snapshot(table, old), redact_snapshot(table, new)
        old_s = canonical_json(old) if old is not None else ""
        new_s = canonical_json(new) if new is not None else ""
        h = event_hash(prev, seq, at, actor, action, table, record_id, old_s, new_s, reason)
        rows.append((seq, at, actor, action, table, record_id, old_s, new_s, reason, prev, h))
        prev = h
    # the driver's executemany (psycopg pipelines it; no RETURNING is needed for the trail)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(_INSERT_EVENT.format(marks=", ".join([mark] * 11)), rows)


_INSERT_EVENT = ("INSERT INTO audit_event (seq, at, actor, action, table_name, record_id, old, new, reason, "
                 "prev_hash, hash) VALUES ({marks})")


def install(session_class: type[Session] = Session) -> None:
    """Attach the audit hooks to every session of the given class (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "after_flush", _after_flush)
    from lims.db import anchors  # checkpoints after sign-off and reports (imports this module)

    anchors.install(session_class)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    first_broken_seq: int | None
    message: str
    head_seq: int = 0
    head_hash: str = GENESIS_HASH


#: Called for every event of an intact chain prefix: (seq, action, table, record_id, old, new).
EventVisitor = Callable[[int, str, str, str, str, str], None]
_EVENT_COLUMNS = (AuditEvent.id, AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.action,
                  AuditEvent.table_name, AuditEvent.record_id, AuditEvent.old, AuditEvent.new, AuditEvent.reason,
                  AuditEvent.prev_hash, AuditEvent.hash)


def redaction_digest(old: str, new: str) -> str:
    """SHA-256 of an event's redacted text, as its redaction record names it."""
    return hashlib.sha256((old + "\n" + new).encode()).hexdigest()


def _redactions(session: Session) -> dict[int, tuple[int, dict[str, Any]]]:
    """Redaction records by the seq they redact: (seq of the record, its content)."""
    out: dict[int, tuple[int, dict[str, Any]]] = {}
    for seq, record_id, new in session.execute(
            select(AuditEvent.seq, AuditEvent.record_id, AuditEvent.new).where(
                AuditEvent.action == REDACT_ACTION, AuditEvent.table_name == AuditEvent.__tablename__)):
        try:
            out[int(record_id)] = (seq, json.loads(new))
        except ValueError:
            continue  # not a redaction record: the hash check of that event decides
    return out


def _redaction_problem(ev: Any, record: tuple[int, dict[str, Any]] | None) -> str | None:
    """None when ``ev`` is a documented redaction of secret fields only; else what is wrong."""
    if record is None:
        return "content does not match its hash (edited)"
    red_seq, red = record
    fields = red.get("fields") or {}
    secret = SECRET_FIELDS.get(ev.table_name, frozenset())
    named = {f for side in ("old", "new") for f in fields.get(side, [])}
    if red_seq <= ev.seq or red.get("original_hash") != ev.hash or not named or not named <= secret:
        return f"redaction record seq {red_seq} does not match this event or names non-secret fields"
    if red.get("redacted_sha256") != redaction_digest(ev.old, ev.new):
        return f"text differs from what redaction record seq {red_seq} redacted (edited after redaction)"
    for side in ("old", "new"):
        text_ = getattr(ev, side)
        values = json.loads(text_) if text_ else {}
        for f in fields.get(side, []):
            if not str(values.get(f, "")).startswith(REDACTED_PREFIX):
                return f"field {f} is named redacted by seq {red_seq} but is not a redaction marker"
    return None


def verify_chain(session: Session, batch: int = 5000, visit: EventVisitor | None = None) -> ChainCheck:
    """Walk the chain in ``seq`` order, recomputing every hash (rows streamed in batches by seq, so memory
    does not grow with the trail). ``visit`` sees every event of the intact prefix."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    redactions = _redactions(session)
    conn = session.connection()
    while True:
        rows = conn.execute(select(*_EVENT_COLUMNS).where(AuditEvent.seq > expected_seq - 1)
                            .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            break
        for ev in rows:
            ev_id, seq, at, actor, action, table, record_id, old, new, reason, prev_hash, stored = ev
            if seq != expected_seq:
                return ChainCheck(False, count, expected_seq,
                                  f"audit event seq {expected_seq} is missing (next present is {seq})",
                                  expected_seq - 1, prev)
            if prev_hash != prev:
                return ChainCheck(False, count, seq,
                                  f"audit event seq {seq} (id {ev_id}): prev_hash does not match event "
                                  f"{seq - 1} (reordered or preceding event altered)", seq - 1, prev)
            if event_hash(prev, seq, at, actor, action, table, record_id, old, new, reason) != stored:
                problem = _redaction_problem(ev, redactions.get(seq))
                if problem is not None:
                    return ChainCheck(False, count, seq,
                                      f"audit event seq {seq} (id {ev_id}, {table} {record_id}): " + problem,
                                      seq - 1, prev)
            if visit is not None:
                visit(seq, action, table, record_id, old, new)
            prev = stored
            expected_seq += 1
            count += 1
    return ChainCheck(True, count, None, f"{count} audit events intact", expected_seq - 1, prev)
