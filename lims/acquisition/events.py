"""Instrument events: what an instrument's runs or link did that a person must see — a run that did not
arrive complete, a gap in record sequence numbers, records the reader gave up on after its retries, a file
the watch folder refused. Listed on the instrument page (``GET /api/v1/instruments/{code}/events``)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typing_extensions import TypedDict

from lims.db.engine import session_scope
from lims.db.models import Instrument, InstrumentEvent
from lims.services.lookup import find_by_code


class EventKind(StrEnum):
    RUN_INCOMPLETE = "run_incomplete"  # a run's end marker, count or items did not agree (readings held)
    SEQUENCE_GAP = "sequence_gap"  # record sequence numbers skipped (records missing)
    GAVE_UP = "gave_up"  # the reader gave up on a record after its retries
    FILE_REFUSED = "file_refused"  # a watch-folder entry refused (symlink, not a regular file)
    QUARANTINED = "quarantined"  # a unit whose parsing failed unexpectedly (kept, reason recorded)
    LINK_SILENT = "link_silent"  # the device sent nothing for longer than its expected interval (an alert)
    LINK_RESUMED = "link_resumed"  # a silent device was heard again


#: Each event kind in words (zh-CN, English), for pages that show events (never the machine code).
EVENT_LABELS: dict[str, tuple[str, str]] = {
    EventKind.RUN_INCOMPLETE: ("批次不完整（读数暂挂）", "run incomplete (readings held)"),
    EventKind.SEQUENCE_GAP: ("记录序号缺失", "record sequence gap"),
    EventKind.GAVE_UP: ("多次重试后放弃该记录", "record given up after retries"),
    EventKind.FILE_REFUSED: ("文件被拒收", "file refused"),
    EventKind.QUARANTINED: ("解析异常，已隔离", "quarantined after a parse failure"),
    EventKind.LINK_SILENT: ("仪器超时无数据（告警）", "device silent past its expected interval (alert)"),
    EventKind.LINK_RESUMED: ("仪器恢复通信", "device heard again"),
}


def add_event(s: Session, instrument_id: int, kind: EventKind, detail: str, *, run_no: str = "",
              capture_id: int | None = None) -> InstrumentEvent:
    """Add one event in ``s`` (the caller commits)."""
    ev = InstrumentEvent(instrument_id=instrument_id, kind=str(kind), detail=detail[:2000], run_no=run_no[:30],
                         raw_capture_id=capture_id)
    s.add(ev)
    return ev


def record_event(factory: sessionmaker[Session], instrument_id: int, kind: EventKind, detail: str, *,
                 actor: str, run_no: str = "", capture_id: int | None = None) -> None:
    """Add one event in its own transaction."""
    with session_scope(factory, actor=actor) as s:
        add_event(s, instrument_id, kind, detail, run_no=run_no, capture_id=capture_id)


class EventRow(TypedDict):
    """One instrument event as shown."""

    id: int
    at: str | None
    kind: str
    run_no: str
    raw_capture_id: int | None
    detail: str


class EventList(TypedDict):
    instrument: str
    total: int
    events: list[EventRow]


def list_events(s: Session, code: str, *, kind: str | None = None, limit: int = 50,
                offset: int = 0) -> EventList | None:
    """A page of instrument ``code``'s events, newest first (``total`` counts all of them, of ``kind`` when
    given); ``None`` if there is no such instrument."""
    inst = find_by_code(s, Instrument, code)
    if inst is None:
        return None
    q = select(InstrumentEvent).where(InstrumentEvent.instrument_id == inst.id)
    if kind is not None:
        q = q.where(InstrumentEvent.kind == kind)
    total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = s.execute(q.order_by(InstrumentEvent.id.desc()).limit(limit).offset(offset)).scalars().all()
    return {"instrument": code, "total": total,
            "events": [{"id": e.id, "at": e.at.isoformat() if e.at else None, "kind": e.kind, "run_no": e.run_no,
                        "raw_capture_id": e.raw_capture_id, "detail": e.detail} for e in rows]}
