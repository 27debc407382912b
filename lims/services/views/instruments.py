"""Instruments as shown: status (what ``lims acquire`` reports), raw captures, recent parse errors.

Stable read functions for the API and the web pages:

- :func:`list_instruments` / :func:`instrument_row` — each instrument's status, with its ``link_state``
  (:func:`link_state`: ``online``, ``silent`` — connected but nothing heard past ``expected_interval_s``,
  an open alert since ``silent_since`` — or ``offline``) and its counters;
- :func:`link_alerts` — the open link alerts (silent instruments) and the newest link events;
- :func:`list_captures`, :func:`instruments_overview` — raw captures, capture counts, parse errors, events,
  the unmatched-reading queue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.acquisition.store import HEARD_WRITE_S
from lims.acquisition.unmatched import unmatched_counts, unmatched_readings
from lims.clock import as_utc, utcnow
from lims.db.models import Instrument, InstrumentEvent, RawCapture
from lims.services.lookup import find_by_code
from lims.services.views.common import iso

#: Every parse status a raw capture can have (the capture-status filter).
CAPTURE_STATUSES = ("pending", "parsed", "error", "rejected", "incomplete", "duplicate")


class InstrumentRow(TypedDict):
    """An instrument's acquisition status."""

    code: str
    name: str
    profile: str
    transport_url: str
    connected: bool
    last_message_at: str | None
    message_count: int
    error_count: int
    duplicate_resends: int
    expected_interval_s: float | None  # a link alert is raised after this long without a byte (None: not watched)
    silent_since: str | None  # the open link alert's start (None: none open)
    heard_at: str | None  # when lims acquire last heard the device (any byte or poll reply; written every 5 s)
    link_state: str  # online | silent | offline (:func:`link_state`)


#: Link states as shown (zh-CN, English).
LINK_STATES = {"online": ("在线", "online"), "silent": ("无数据（超时告警）", "silent (alert)"),
               "offline": ("离线", "offline")}


def link_state(connected: bool, silent_since: object, *, heard_at: dt.datetime | None = None,
               expected_interval_s: float | None = None, now: dt.datetime | None = None) -> str:
    """``offline`` when the link is not open; ``silent`` when it is open but the device has sent nothing for
    longer than its expected interval — the alert ``lims acquire`` raised (``silent_since``,
    lims.acquisition.linkwatch), or ``heard_at`` older than the interval plus the write period
    (:data:`lims.acquisition.store.HEARD_WRITE_S`: the acquisition process itself stopped writing);
    else ``online``."""
    if not connected:
        return "offline"
    if silent_since is not None:
        return "silent"
    if heard_at is not None and expected_interval_s is not None:
        age = ((now or utcnow()) - as_utc(heard_at)).total_seconds()
        if age > expected_interval_s + HEARD_WRITE_S:
            return "silent"
    return "online"


class LinkAlert(TypedDict):
    code: str
    name: str
    silent_since: str | None
    expected_interval_s: float | None


class LinkAlerts(TypedDict):
    silent: list[LinkAlert]  # instruments whose link alert is open
    events: list[dict[str, Any]]  # newest link_silent / link_resumed events


class InstrumentList(TypedDict):
    instruments: list[InstrumentRow]


class CaptureRow(TypedDict):
    """A raw capture as stored before it was parsed (bytes shown as Latin-1, first 2,000)."""

    id: int
    received_at: str | None
    stream_offset: int | None
    source: str
    profile: str
    sha256: str
    length: int
    data_latin1: str
    parse_status: str
    error: str


class CaptureList(TypedDict):
    instrument: str
    captures: list[CaptureRow]


class ReparseOutcome(TypedDict):
    instrument: str
    readings: int
    errors: int
    error_messages: list[str]


def instrument_row(inst: Instrument) -> InstrumentRow:
    return {"code": inst.code, "name": inst.name, "profile": inst.profile, "transport_url": inst.transport_url,
            "connected": inst.connected, "last_message_at": iso(inst.last_message_at),
            "message_count": inst.message_count, "error_count": inst.error_count,
            "duplicate_resends": inst.duplicate_resends, "expected_interval_s": inst.expected_interval_s,
            "silent_since": iso(inst.silent_since), "heard_at": iso(inst.heard_at),
            "link_state": link_state(inst.connected, inst.silent_since, heard_at=inst.heard_at,
                                     expected_interval_s=inst.expected_interval_s)}


def link_alerts(s: Session, events_shown: int = 20) -> LinkAlerts:
    """Open link alerts (instruments connected but silent past their expected interval: :func:`link_state`)
    and the newest link events (:data:`lims.acquisition.events.EventKind` ``link_silent`` / ``link_resumed``)."""
    watched = s.execute(select(Instrument).where(
        Instrument.connected, Instrument.silent_since.is_not(None) | Instrument.expected_interval_s.is_not(None))
        .order_by(Instrument.code)).scalars().all()
    silent = [i for i in watched if link_state(i.connected, i.silent_since, heard_at=i.heard_at,
                                               expected_interval_s=i.expected_interval_s) == "silent"]
    rows = s.execute(select(InstrumentEvent, Instrument.code).join(Instrument, Instrument.id == InstrumentEvent.instrument_id)
                     .where(InstrumentEvent.kind.in_(("link_silent", "link_resumed")))
                     .order_by(InstrumentEvent.id.desc()).limit(events_shown)).all()
    return {"silent": [{"code": i.code, "name": i.name, "silent_since": iso(i.silent_since),
                        "expected_interval_s": i.expected_interval_s} for i in silent],
            "events": [{"id": e.id, "instrument": code, "at": iso(e.at), "kind": e.kind, "detail": e.detail}
                       for e, code in rows]}


def list_instruments(s: Session) -> InstrumentList:
    return {"instruments": [instrument_row(i) for i in
                            s.execute(select(Instrument).order_by(Instrument.code)).scalars().all()]}


def list_captures(s: Session, code: str, *, status: str | None, limit: int, offset: int) -> CaptureList | None:
    """A page of the instrument's raw captures, newest first (of one parse status or all); None when
    there is no such instrument."""
    inst = find_by_code(s, Instrument, code)
    if inst is None:
        return None
    q = select(RawCapture).where(RawCapture.instrument_id == inst.id)
    if status is not None:
        q = q.where(RawCapture.parse_status == status)
    caps = s.execute(q.order_by(RawCapture.id.desc()).limit(limit).offset(offset)).scalars().all()
    return {"instrument": code, "captures": [
        {"id": c.id, "received_at": iso(c.received_at), "stream_offset": c.stream_offset, "source": c.source,
         "profile": c.profile, "sha256": c.sha256, "length": len(c.data),
         "data_latin1": c.data[:2000].decode("latin-1"), "parse_status": c.parse_status, "error": c.error}
        for c in caps]}


def instruments_overview(s: Session, errors_shown: int = 50) -> dict[str, Any]:
    """The instruments page: each instrument's status with its capture counts per parse status, and the
    newest captures in error (a printable preview of their bytes)."""
    insts = s.execute(select(Instrument).order_by(Instrument.code)).scalars().all()
    counts: dict[int, dict[str, int]] = {}
    for inst_id, st, n in s.execute(select(RawCapture.instrument_id, RawCapture.parse_status, func.count())
                                    .group_by(RawCapture.instrument_id, RawCapture.parse_status)).all():
        counts.setdefault(inst_id, {})[st] = n
    code_of = {i.id: i.code for i in insts}
    errors = s.execute(select(RawCapture).where(RawCapture.parse_status == "error")
                       .order_by(RawCapture.id.desc()).limit(errors_shown)).scalars().all()
    events = s.execute(select(InstrumentEvent).order_by(InstrumentEvent.id.desc()).limit(errors_shown)).scalars()
    unmatched = unmatched_counts(s)  # readings that gave no result (issue 13, lims.acquisition.unmatched)
    queue = unmatched_readings(s, limit=errors_shown)
    return {"instruments": [{**instrument_row(i), "captures": counts.get(i.id, {}), "unmatched": unmatched.get(i.id, 0)}
                            for i in insts],
            "link_alerts": link_alerts(s)["silent"],
            "unmatched": queue["readings"], "unmatched_total": queue["total"],
            "events": [{"id": e.id, "instrument": code_of.get(e.instrument_id, "?"), "at": iso(e.at), "kind": e.kind,
                        "run_no": e.run_no, "detail": e.detail} for e in events],
            "errors": [{"id": c.id, "instrument": code_of.get(c.instrument_id, "?"),
                        "received_at": iso(c.received_at), "source": c.source, "length": len(c.data),
                        "error": c.error,
                        "preview": c.data[:160].decode("latin-1").encode("unicode_escape").decode("ascii")}
                       for c in errors]}
