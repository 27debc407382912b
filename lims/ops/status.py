"""What an operator's probes read: readiness checks (``/ready``) and the gauges of ``/metrics`` that live in
the database (instrument messages and errors, queue depths, upstream delivery latency) or beside it (the
last ``lims audit verify``).

Readiness (load balancers and systemd health checks take a server out of rotation while it fails):
the database answers; its schema is at the head revision this code needs (`lims db upgrade`); the report
folder is writable (a report that cannot be written fails its issue); and the oldest upstream message still
pending is younger than ``LIMS_READY_OUTBOX_MAX_AGE_S`` (a delivery worker that stopped, or a hub that has
been away that long, needs a person).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from lims.clock import as_utc, utcnow
from lims.db.models import Instrument, OutboxMessage, RawCapture, Reading
from lims.vocabulary import OutboxStatus, ParseStatus

#: Parse outcomes counted as instrument errors (a stored capture that made no reading).
ERROR_STATUSES = (ParseStatus.ERROR, ParseStatus.REJECTED, ParseStatus.INCOMPLETE)
#: Delivered messages whose latency (queued → delivered) the latency quantiles are taken over.
LATENCY_WINDOW = 1000


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@lru_cache(maxsize=1)
def _heads() -> tuple[str, ...]:
    from lims.db.migrate import head_revisions

    return head_revisions()


def check_database(engine: Engine) -> list[Check]:
    """The database answers, and its schema is at the head revision (two checks; one when unreachable)."""
    from lims.db.engine import READ_ONLY
    from lims.db.migrate import current_revisions

    engine = engine.execution_options(**{READ_ONLY: True})  # SQLite: a plain BEGIN, not the write lock
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revisions(engine)
    except Exception as exc:  # noqa: BLE001 - a probe answers, it never raises
        return [Check("database", False, _first_line(exc))]
    heads = _heads()
    at_head = set(current) == set(heads)
    detail = (f"at {', '.join(heads)}" if at_head else
              f"at {', '.join(current) or 'no revision'}, needs {', '.join(heads)}: run `lims db upgrade`")
    return [Check("database", True, engine.url.get_backend_name()), Check("migrations", at_head, detail)]


def check_report_dir(folder: Path) -> Check:
    """A file can be created (and removed) in the report folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".ready-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
    except OSError as exc:
        return Check("report_dir", False, f"{folder}: {exc.strerror or exc}")
    return Check("report_dir", True, str(folder))


def oldest_pending_age_s(s: Session) -> float | None:
    """Age in seconds of the oldest upstream message still pending (None: none pending)."""
    oldest = s.execute(select(func.min(OutboxMessage.created_at))
                       .where(OutboxMessage.status == OutboxStatus.PENDING)).scalar_one_or_none()
    return None if oldest is None else max(0.0, (utcnow() - as_utc(oldest)).total_seconds())


def check_outbox(s: Session, max_age_s: float) -> Check:
    """The oldest pending upstream message is younger than ``max_age_s`` (0: not checked)."""
    if max_age_s <= 0:
        return Check("upstream_backlog", True, "not checked (LIMS_READY_OUTBOX_MAX_AGE_S=0)")
    try:
        age = oldest_pending_age_s(s)
    except Exception as exc:  # noqa: BLE001
        return Check("upstream_backlog", False, _first_line(exc))
    if age is None:
        return Check("upstream_backlog", True, "nothing pending")
    ok = age <= max_age_s
    return Check("upstream_backlog", ok, f"oldest pending message {age:.0f} s old (limit {max_age_s:.0f} s)")


def readiness(engine: Engine, read: Callable[[], Session], report_dir: Path, max_outbox_age_s: float) -> list[Check]:
    """Every readiness check, in order (the backlog is read, in a session from ``read``, only when the
    schema is at head)."""
    checks = check_database(engine)
    checks.append(check_report_dir(report_dir))
    if all(c.ok for c in checks):
        with read() as s:
            checks.append(check_outbox(s, max_outbox_age_s))
    return checks


# ---------------------------------------------------------------------------------------- /metrics gauges

@dataclass(frozen=True)
class Gauges:
    """The database-held figures of ``/metrics`` at one moment."""

    instrument_messages: dict[str, int]
    instrument_errors: dict[str, int]
    unmatched_readings: dict[str, int]
    outbox: dict[str, int]
    oldest_pending_age_s: float | None
    delivery_latency_s: dict[str, float]


def gauges(s: Session) -> Gauges:
    from lims.acquisition.unmatched import unmatched_clause

    codes = dict(s.execute(select(Instrument.id, Instrument.code)).all())

    def by_code(rows: Any) -> dict[str, int]:
        return {codes.get(i, str(i)): int(n) for i, n in rows}

    messages = by_code(s.execute(select(RawCapture.instrument_id, func.count()).group_by(RawCapture.instrument_id)))
    errors = by_code(s.execute(select(RawCapture.instrument_id, func.count())
                               .where(RawCapture.parse_status.in_([str(e) for e in ERROR_STATUSES]))
                               .group_by(RawCapture.instrument_id)))
    unmatched = by_code(s.execute(select(Reading.instrument_id, func.count()).where(unmatched_clause())
                                  .group_by(Reading.instrument_id)))
    outbox = {str(st): 0 for st in OutboxStatus}
    outbox.update({st: int(n) for st, n in s.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))})
    return Gauges({c: messages.get(c, 0) for c in codes.values()}, {c: errors.get(c, 0) for c in codes.values()},
                  {c: unmatched.get(c, 0) for c in codes.values()}, outbox, oldest_pending_age_s(s),
                  _latency(s))


def _latency(s: Session) -> dict[str, float]:
    """Quantiles (0.5, 0.95, 0.99) and mean of queued → delivered over the newest delivered messages."""
    rows = s.execute(select(OutboxMessage.created_at, OutboxMessage.delivered_at)
                     .where(OutboxMessage.status == OutboxStatus.DELIVERED, OutboxMessage.delivered_at.is_not(None))
                     .order_by(OutboxMessage.id.desc()).limit(LATENCY_WINDOW)).all()
    spans = sorted(max(0.0, (as_utc(d) - as_utc(c)).total_seconds()) for c, d in rows)
    if not spans:
        return {}
    pick = lambda q: spans[min(len(spans) - 1, int(q * len(spans)))]  # noqa: E731 - nearest rank
    return {"0.5": pick(0.5), "0.95": pick(0.95), "0.99": pick(0.99), "mean": sum(spans) / len(spans)}


# ------------------------------------------------------------------------------- last `lims audit verify`

def record_verify(path: Path, *, ok: bool, audit_events: int, message: str) -> None:
    """Write the outcome of a `lims audit verify` run (atomically) for ``/metrics`` to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"ok": ok, "audit_events": audit_events, "message": message, "at": utcnow().isoformat()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False)
    os.replace(tmp, path)


def last_verify(path: Path) -> dict[str, Any] | None:
    """The last recorded `lims audit verify` outcome, with ``age_s`` (None: never recorded or unreadable)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {**doc, "timestamp": as_utc(dt.datetime.fromisoformat(str(doc["at"]))).timestamp()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
