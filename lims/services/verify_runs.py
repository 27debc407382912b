"""The audit-trail verification as a job with a cached, timestamped result.

A full verification (:func:`lims.db.verify.verify_database`) reads every audit event (11.9 s at 601k
events), so the API no longer runs it on every GET: :func:`start_run` records a run (``audit_verify_run``),
:func:`execute_run` verifies and stores the outcome, and :func:`latest` answers the newest finished run with
its time (and whether one is running). One run at a time: a start while another is running (and younger than
:data:`STALE_AFTER`) answers that run. The caller owns the unit of work of :func:`start_run` and
:func:`latest`; :func:`execute_run` is a worker step and owns its own (it runs in a background thread).
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from typing_extensions import TypedDict

from lims.clock import as_utc, utcnow
from lims.db.engine import session_scope
from lims.db.models_system import AuditVerifyRun
from lims.db.verify import verify_database

RUNNING, DONE, FAILED = "running", "done", "failed"
#: Advisory lock key of "start an audit verification" on PostgreSQL (any constant unique in this product).
ADVISORY_LOCK = 0x4C494D53_0B
#: A run still "running" after this long is taken as lost (its worker died) and a new one may start.
STALE_AFTER = dt.timedelta(hours=1)


class VerifyRunView(TypedDict):
    """A verification run: ``ok`` None while running or when it failed to complete."""

    run_id: int | None
    status: str
    ok: bool | None
    audit_events: int | None
    certified_records: int | None
    message: str
    started_at: str | None
    finished_at: str | None
    running: bool


def view(run: AuditVerifyRun | None, *, running: bool) -> VerifyRunView:
    if run is None:
        return {"run_id": None, "status": "never", "ok": None, "audit_events": None, "certified_records": None,
                "message": "尚未校验 / not verified yet: POST /api/v1/audit/verify starts a run",
                "started_at": None, "finished_at": None, "running": running}
    return {"run_id": run.id, "status": run.status, "ok": run.ok, "audit_events": run.audit_events,
            "certified_records": run.certified_records, "message": run.message,
            "started_at": as_utc(run.started_at).isoformat(),
            "finished_at": as_utc(run.finished_at).isoformat() if run.finished_at else None, "running": running}


def running_run(s: Session, *, now: dt.datetime | None = None) -> AuditVerifyRun | None:
    """The run in progress (started within :data:`STALE_AFTER`), if any."""
    since = (now or utcnow()) - STALE_AFTER
    return s.execute(select(AuditVerifyRun).where(AuditVerifyRun.status == RUNNING,
                                                  AuditVerifyRun.started_at >= since)
                     .order_by(AuditVerifyRun.id.desc()).limit(1)).scalars().first()


def start_run(s: Session, requested_by: str) -> tuple[AuditVerifyRun, bool]:
    """A new run (and True), or the one already running (and False). On PostgreSQL the check and the insert
    hold a transaction-scoped advisory lock, so two requests at once cannot both start one (SQLite runs one
    writer at a time)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    current = running_run(s)
    if current is not None:
        return current, False
    run = AuditVerifyRun(requested_by=requested_by[:60], started_at=utcnow(), status=RUNNING, message="")
    s.add(run)
    s.flush()
    return run, True


def latest(s: Session) -> VerifyRunView:
    """The newest finished run with its time, and whether a run is in progress."""
    done = s.execute(select(AuditVerifyRun).where(AuditVerifyRun.status != RUNNING)
                     .order_by(AuditVerifyRun.id.desc()).limit(1)).scalars().first()
    return view(done, running=running_run(s) is not None)


def execute_run(factory: sessionmaker[Session], run_id: int) -> None:
    """Verify and store the outcome in run ``run_id``; an unexpected error is stored as a failed run with its
    type and message, never lost. The verification reads in one transaction (a consistent snapshot, and the
    server-side cursors PostgreSQL needs), rolled back: it writes nothing."""
    outcome: dict[str, object]
    try:
        with factory() as s:
            report = verify_database(s)
            s.rollback()
        outcome = {"status": DONE, "ok": report.ok, "audit_events": report.audit_events,
                   "certified_records": report.certified_records, "message": report.message}
    except Exception as exc:  # noqa: BLE001 - stored on the run, which is what a person reads
        outcome = {"status": FAILED, "ok": None, "message": f"verification failed: {type(exc).__name__}: {exc}"}
    with session_scope(factory, actor="system:audit-verify", reason="audit verification run") as s:
        run = s.get(AuditVerifyRun, run_id)
        if run is None:
            return
        for key, value in outcome.items():
            setattr(run, key, value)
        run.finished_at = utcnow()


def run_and_wait(factory: sessionmaker[Session], requested_by: str, *, timeout_s: float = 300.0,
                 poll_s: float = 0.2) -> VerifyRunView:
    """A verification a person waits for (the web page): a new run executed here, or the one already running
    joined, so that however many people ask at once there is one verification at a time."""
    with session_scope(factory, actor=requested_by, reason="start audit verification") as s:
        run, new = start_run(s, requested_by)
        run_id = run.id
    if new:
        execute_run(factory, run_id)
    deadline = time.monotonic() + timeout_s
    while True:
        with factory() as s:
            found = s.get(AuditVerifyRun, run_id)
            if found is None or found.status != RUNNING or time.monotonic() > deadline:
                return view(found, running=found is not None and found.status == RUNNING)
        time.sleep(poll_s)
