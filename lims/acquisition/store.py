"""Durable raw captures and instrument status for one instrument (used by the runners)."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lims.db.engine import session_scope
from lims.db.models import Instrument, RawCapture, utcnow


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class NewCapture:
    """A capture to store: the bytes, where they were in the stream, and how far they got."""

    data: bytes
    offset: int = 0
    source: str = ""
    status: str = "pending"
    error: str = ""
    unit_sha256: str | None = None


class CaptureStore:
    """Commits captures of one instrument; each call is one transaction, committed when it returns."""

    def __init__(self, factory: sessionmaker[Session], instrument_id: int, code: str, profile: str) -> None:
        self.factory = factory
        self.instrument_id = instrument_id
        self.code = code
        self.profile = profile
        self.actor = f"instrument:{code}"

    def add(self, items: Sequence[NewCapture]) -> list[int]:
        """Insert and commit; returns the new capture ids (in order)."""
        if not items:
            return []
        now = utcnow()
        with session_scope(self.factory, actor=self.actor) as s:
            caps = [RawCapture(instrument_id=self.instrument_id, received_at=now, stream_offset=i.offset,
                               data=i.data, sha256=sha256_hex(i.data), profile=self.profile, source=i.source,
                               parse_status=i.status, error=i.error, unit_sha256=i.unit_sha256) for i in items]
            s.add_all(caps)
            s.flush()
            return [c.id for c in caps]

    def add_one(self, item: NewCapture) -> int:
        return self.add([item])[0]

    def unit_seen(self, s: Session, unit: str, *, exclude_id: int | None = None) -> bool:
        """True if a unit with this SHA-256 was already parsed into readings for this instrument."""
        q = select(RawCapture.id).where(RawCapture.instrument_id == self.instrument_id,
                                        RawCapture.unit_sha256 == unit, RawCapture.parse_status == "parsed")
        if exclude_id is not None:
            q = q.where(RawCapture.id != exclude_id)
        return s.execute(q.limit(1)).first() is not None


class StatusTracker:
    """Instrument status (connected, last message, message and error counts), accumulated in memory and
    written by :meth:`flush` at most every ``interval_s`` (at once when ``connected`` changes) with a plain
    UPDATE. Runners call :meth:`flush` between units, never inside an open transaction (on SQLite a second
    writer in the same thread would wait for itself)."""

    def __init__(self, factory: sessionmaker[Session], instrument_id: int, *, interval_s: float = 0.5) -> None:
        self.factory = factory
        self.instrument_id = instrument_id
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._messages = 0
        self._errors = 0
        self._last: dt.datetime | None = None
        self._connected: bool | None = None
        self._dirty = False
        self._written_at = 0.0
        self.messages_total = 0
        self.errors_total = 0

    def message(self, n: int = 1) -> None:
        with self._lock:
            self._messages += n
            self.messages_total += n
            self._last = utcnow()
            self._dirty = True

    def error(self, n: int = 1) -> None:
        with self._lock:
            self._errors += n
            self.errors_total += n
            self._dirty = True

    def connected(self, value: bool) -> None:
        with self._lock:
            changed = self._connected is not value
            self._connected = value
            self._dirty = self._dirty or changed
        if changed:
            self.flush(force=True)

    def flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._dirty or (not force and now - self._written_at < self.interval_s):
                return
            values: dict[str, object] = {}
            if self._messages:
                values["message_count"] = Instrument.message_count + self._messages
            if self._errors:
                values["error_count"] = Instrument.error_count + self._errors
            if self._last is not None:
                values["last_message_at"] = self._last
            if self._connected is not None:
                values["connected"] = self._connected
            pending = (self._messages, self._errors)
            self._messages = self._errors = 0
            self._dirty = False
            self._written_at = now
        if not values:
            return
        try:
            with self.factory() as s:
                s.execute(update(Instrument.__table__).where(Instrument.__table__.c.id == self.instrument_id)
                          .values(**values))
                s.commit()
        except Exception:
            with self._lock:  # keep the counts for the next write
                self._messages += pending[0]
                self._errors += pending[1]
                self._dirty = True
            raise
