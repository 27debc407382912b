"""Link silence alerts (issue 13: "a device silent past its expected interval raises an alert").

An instrument configured with ``expected_interval_s`` is watched by one thread of ``lims acquire``: when its
runner has heard nothing from the device — no byte on a serial/TCP link, no reply to a poll — for longer
than that interval (from the runner's start, so a device that never answers counts too), a ``link_silent``
event is stored (:mod:`lims.acquisition.events`) and ``instrument.silent_since`` set; when the device is
heard again, a ``link_resumed`` event clears it. A link that is merely open is not a live device: a serial
port opens whether or not the tester is switched on, a Modbus gateway accepts the connection of a device
that no longer answers. Every runner also writes ``instrument.heard_at`` (at most every 5 s), so a
stopped acquisition process — whose ``connected`` flag nobody clears — shows as silent too. The instruments
view reads ``connected``, ``silent_since`` and ``heard_at`` as one ``link_state``
(:func:`lims.services.views.instruments.link_state`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from lims.acquisition.events import EventKind, add_event
from lims.acquisition.store import StatusTracker
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import Instrument

log = logging.getLogger("lims.acquire")


@dataclass
class Watched:
    """One watched instrument: its id, code, expected interval, its live runner's status tracker and whether
    its alert is open (kept here, not in the tracker: a restarted runner has a new tracker)."""

    instrument_id: int
    code: str
    expected_interval_s: float
    status: Callable[[], StatusTracker | None]  # the current runner's tracker (None between restarts)
    silent: bool = False


def silence_of(last_heard: float, now: float, expected_s: float) -> float | None:
    """Seconds of silence past the expected interval's start, when longer than the interval; else None."""
    silent_for = now - last_heard
    return silent_for if silent_for > expected_s else None


def check(factory: sessionmaker[Session], watched: Watched, now: float) -> str | None:
    """One check of one instrument: opens (``link_silent``) or closes (``link_resumed``) its alert when its
    state changed; returns the event kind written, or None."""
    status = watched.status()
    if status is None:
        return None
    silent_for = silence_of(status.last_heard, now, watched.expected_interval_s)
    if (silent_for is not None) == watched.silent:
        return None
    with session_scope(factory, actor=f"instrument:{watched.code}") as s:
        if silent_for is not None:
            since = utcnow() - dt.timedelta(seconds=silent_for)
            add_event(s, watched.instrument_id, EventKind.LINK_SILENT,
                      f"nothing heard from the device for {silent_for:.1f} s (expected at least every "
                      f"{watched.expected_interval_s:g} s): check its power, cable and link")
            kind = EventKind.LINK_SILENT
        else:
            since = None
            add_event(s, watched.instrument_id, EventKind.LINK_RESUMED, "the device is heard again")
            kind = EventKind.LINK_RESUMED
        s.execute(update(Instrument.__table__).where(Instrument.__table__.c.id == watched.instrument_id)
                  .values(silent_since=since))
    watched.silent = status.silent = silent_for is not None
    log.warning("%s: %s", watched.code, kind)
    return str(kind)


def clear(factory: sessionmaker[Session], instrument_ids: Mapping[str, int]) -> None:
    """At start-up: no alert is open yet for these instruments (an earlier run's is closed by this one)."""
    if not instrument_ids:
        return
    with session_scope(factory, actor="acquire") as s:
        s.execute(update(Instrument.__table__).where(Instrument.__table__.c.id.in_(list(instrument_ids.values())))
                  .values(silent_since=None))


def watch(factory: sessionmaker[Session], watched: list[Watched], stop: threading.Event, *,
          every_s: float = 0.5) -> None:
    """Check every watched instrument every ``every_s`` until ``stop`` (a failed check is logged and tried
    again: the watch never stops acquisition)."""
    while not stop.wait(every_s):
        now = time.monotonic()
        for w in watched:
            try:
                check(factory, w, now)
            except Exception:
                log.exception("%s: link check failed", w.code)
