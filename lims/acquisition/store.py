"""Durable raw captures and instrument status for one instrument (used by the runners)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Engine, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from lims.clock import utcnow
from lims.db.models import Instrument, RawCapture, Reading

log = logging.getLogger("lims.acquire")

#: ``instrument.heard_at`` is written at most this often (seconds): the link state's freshness, not a log.
HEARD_WRITE_S = 5.0
#: SQLite's default ``wal_autocheckpoint`` (pages), restored on a connection going back to the pool.
SQLITE_AUTOCHECKPOINT_PAGES = 1000


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
    received_at: dt.datetime | None = None  # default: when it is stored


class _Prepared:
    """A SQLAlchemy statement compiled once for a dialect, executed on a DBAPI cursor: the exact SQL the
    engine would emit (placeholders, casts), parameters through the bound types' bind processors."""

    def __init__(self, stmt: Any, dialect: Dialect, column_keys: Sequence[str] | None = None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None,
                                for_executemany=True)  # no implicit RETURNING
        self.sql: str = compiled.string
        self._order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self._procs = {name: proc for name, b in compiled.binds.items()
                       if (proc := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None}

    def params(self, values: dict[str, Any]) -> Any:
        """DBAPI parameters for ``values`` (keyed by bind name; literals of the statement filled in)."""
        merged = {**self._defaults, **values}
        for name, proc in self._procs.items():
            if name in merged:
                merged[name] = proc(merged[name])
        return merged if self._order is None else tuple(merged[n] for n in self._order)


#: Columns written by the capture INSERT (``id`` comes from the database).
_CAPTURE_COLUMNS = ("instrument_id", "received_at", "stream_offset", "data", "sha256", "profile", "source",
                    "parse_status", "error", "unit_sha256")
_READING_COLUMNS = ("raw_capture_id", "instrument_id", "record_type", "channel", "sample_code", "run_no",
                    "fields", "read_at", "value_state", "units", "review_hold")
#: Reading columns a caller of :meth:`CaptureStore.settle_unit` may leave out.
_READING_DEFAULTS: dict[str, Any] = {"value_state": "ok", "units": None, "review_hold": ""}


class CaptureStore:
    """Writes captures of one instrument (and, for the ASTM runner, a message's parse outcome).

    The capture write is on the ASTM ACK path (a frame is acknowledged only once its capture is committed),
    so it skips the ORM unit of work: statements compiled once by SQLAlchemy for the engine's dialect run
    on the DBAPI connection — with ``keep_connection`` (the ASTM runner) a dedicated one held for the
    runner's life, otherwise one checked out of the pool per call (many slow instruments must not exhaust
    the pool). sqlite3 caches a statement by its text and psycopg prepares it server-side after a few
    executions, so each is parsed once per connection. The capture id comes from ``lastrowid`` (SQLite) or
    ``RETURNING id`` (PostgreSQL). On SQLite the connection is in autocommit mode (:mod:`lims.db.engine`):
    a single INSERT is its own WAL transaction, anything more is wrapped in ``BEGIN IMMEDIATE … COMMIT``.
    A failed write rolls back and drops the connection; the next call takes a new one. With
    ``wal_checkpoints_elsewhere`` (SQLite, a :class:`WalCheckpointer` running) the kept connection does not
    checkpoint the WAL itself, so no commit on the ACK path pays for copying pages into the database file.
    """

    def __init__(self, factory: sessionmaker[Session], instrument_id: int, code: str, profile: str, *,
                 keep_connection: bool = False, wal_checkpoints_elsewhere: bool = False) -> None:
        self.factory = factory
        self.instrument_id = instrument_id
        self.code = code
        self.profile = profile
        self.actor = f"instrument:{code}"
        self.keep_connection = keep_connection
        self.engine: Engine = factory.kw["bind"]
        dialect = self.engine.dialect
        self._sqlite = dialect.name == "sqlite"
        self._autocheckpoint_off = self._sqlite and keep_connection and wal_checkpoints_elsewhere
        cap, rd = RawCapture.__table__, Reading.__table__
        self._insert_capture = _Prepared(insert(cap) if self._sqlite else insert(cap).returning(cap.c.id),
                                         dialect, _CAPTURE_COLUMNS)
        self._insert_reading = _Prepared(insert(rd), dialect, _READING_COLUMNS)
        self._mark = _Prepared(update(cap).where(cap.c.id == bindparam("capture_id")).values(
            parse_status=bindparam("status"), error=bindparam("error"),
            unit_sha256=func.coalesce(bindparam("unit", type_=cap.c.unit_sha256.type), cap.c.unit_sha256)),
            dialect)
        self._seen = _Prepared(select(cap.c.id).where(
            cap.c.instrument_id == bindparam("instrument_id"), cap.c.unit_sha256 == bindparam("unit"),
            cap.c.parse_status == "parsed").limit(1), dialect)
        self._raw: Any = None

    # ------------------------------------------------------------------ connection and transactions

    @contextmanager
    def _transaction(self, statements: int) -> Iterator[Any]:
        """A cursor in one transaction of ``statements`` statements, committed on exit."""
        if self._raw is None:
            self._raw = self.engine.raw_connection()
            if self._autocheckpoint_off:
                self._raw.driver_connection.execute("PRAGMA wal_autocheckpoint=0")
        raw = self._raw
        try:
            cur = raw.cursor()
            try:
                if self._sqlite and statements > 1 and raw.driver_connection.isolation_level is None:
                    cur.execute("BEGIN IMMEDIATE")
                yield cur
            finally:
                cur.close()
            raw.commit()
        except BaseException:
            self._discard()
            raise
        if not self.keep_connection:
            self.close()

    def _discard(self) -> None:
        raw = self._raw
        if raw is None:
            return
        try:
            raw.rollback()
        except Exception:  # the connection is broken: do not return it to the pool
            self._raw = None
            raw.invalidate()
            return
        self.close()

    def close(self) -> None:
        """Return the connection to the pool (the next write takes one again)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                if self._autocheckpoint_off:  # back to SQLite's default before the pool hands it out again
                    raw.driver_connection.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
                raw.close()
            except Exception:  # closing a broken connection must not hide why the runner stopped
                pass

    # ------------------------------------------------------------------ writes

    def add(self, items: Sequence[NewCapture]) -> list[int]:
        """Insert and commit; returns the new capture ids (in order)."""
        if not items:
            return []
        now = utcnow()
        ids = []
        with self._transaction(len(items)) as cur:
            for i in items:
                cur.execute(self._insert_capture.sql, self._insert_capture.params({
                    "instrument_id": self.instrument_id, "received_at": i.received_at or now,
                    "stream_offset": i.offset, "data": i.data, "sha256": sha256_hex(i.data),
                    "profile": self.profile, "source": i.source, "parse_status": i.status, "error": i.error,
                    "unit_sha256": i.unit_sha256}))
                ids.append(cur.lastrowid if self._sqlite else cur.fetchone()[0])
        return ids

    def add_one(self, item: NewCapture) -> int:
        return self.add([item])[0]

    def mark(self, ids: Sequence[int], status: str, *, error: str = "",
             unit_sha256: str | None = None) -> None:
        """Set the parse status and error (and the unit identity when given) of captures ``ids``."""
        if ids:
            with self._transaction(len(ids)) as cur:
                self._mark_in(cur, ids, status, error, unit_sha256)

    def _mark_in(self, cur: Any, ids: Sequence[int], status: str, error: str, unit: str | None) -> None:
        cur.executemany(self._mark.sql, [self._mark.params({"capture_id": i, "status": status, "error": error,
                                                            "unit": unit}) for i in ids])

    def settle_unit(self, ids: Sequence[int], unit: str, readings: Sequence[dict[str, Any]], *,
                    reading_capture_id: int, read_at: dt.datetime, error: str | None = None) -> str:
        """The outcome of a parsed unit (e.g. an ASTM message) in one transaction; returns the status
        given to captures ``ids``: ``duplicate`` if a unit with this identity was parsed before (nothing
        inserted), else ``error`` (with ``error``), else ``parsed`` with ``readings`` (column values without
        the links) inserted and linked to capture ``reading_capture_id``."""
        with self._transaction(3) as cur:
            seen = self._seen.params({"instrument_id": self.instrument_id, "unit": unit})
            cur.execute(self._seen.sql, seen)
            if cur.fetchone() is not None:
                status, error = "duplicate", ""
            elif error is not None:
                status = "error"
            else:
                status, error = "parsed", ""
                if readings:
                    cur.executemany(self._insert_reading.sql, [self._insert_reading.params({
                        **_READING_DEFAULTS, **r, "raw_capture_id": reading_capture_id, "instrument_id": self.instrument_id,
                        "read_at": read_at}) for r in readings])
            self._mark_in(cur, ids, status, error, unit)
        return status


class WalCheckpointer:
    """SQLite in WAL mode: checkpoints the WAL (``PRAGMA wal_checkpoint(PASSIVE)``, which never blocks
    readers or writers) from its own thread every ``interval_s``, on its own connection, while stores that
    ACK after commit run with ``wal_autocheckpoint`` off (https://sqlite.org/wal.html#ckpt)."""

    def __init__(self, engine: Engine, stop: threading.Event, *, interval_s: float = 1.0) -> None:
        self.engine = engine
        self.stop = stop
        self.interval_s = interval_s
        self.checkpoints = 0

    def run(self) -> None:
        while not self.stop.wait(self.interval_s):
            try:
                raw = self.engine.raw_connection()  # autocommit: no BEGIN IMMEDIATE, no write lock taken
                try:
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    raw.close()
                self.checkpoints += 1
            except Exception:  # retried at the next interval; a checkpoint never stops acquisition
                log.exception("WAL checkpoint failed")


class StatusTracker:
    """Instrument status (connected, last message, message, error and duplicate-resend counts), accumulated
    in memory and written by :meth:`flush` at most every ``interval_s`` (at once when ``connected``
    changes) with a plain UPDATE. Runners call :meth:`flush` between units, never inside an open transaction (on SQLite a second
    writer in the same thread would wait for itself)."""

    def __init__(self, factory: sessionmaker[Session], instrument_id: int, *, interval_s: float = 0.5) -> None:
        self.factory = factory
        self.instrument_id = instrument_id
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._messages = 0
        self._errors = 0
        self._resends = 0
        self._last: dt.datetime | None = None
        self._connected: bool | None = None
        self._dirty = False
        self._written_at = 0.0
        self.messages_total = 0
        self.errors_total = 0
        self.resends_total = 0
        #: when the device was last heard (any byte, any poll reply; monotonic clock), from the runner's start
        self.last_heard = time.monotonic()
        self.silent = False  # a link alert is open (lims.acquisition.linkwatch)
        self._heard_at: dt.datetime | None = None  # the same instant, wall clock, not yet written
        self._heard_written = 0.0

    def message(self, n: int = 1) -> None:
        with self._lock:
            self._messages += n
            self.messages_total += n
            self._last = utcnow()
            self._dirty = True

    def heard(self) -> None:
        """The device sent something (bytes on the link, a reply to a poll): the link is alive. Written to
        ``instrument.heard_at`` by :meth:`flush` at most every :data:`HEARD_WRITE_S` seconds."""
        self.last_heard = time.monotonic()
        with self._lock:
            self._heard_at = utcnow()

    def error(self, n: int = 1) -> None:
        with self._lock:
            self._errors += n
            self.errors_total += n
            self._dirty = True

    def resend(self, n: int = 1) -> None:
        """A record the device sent again right after we acknowledged it (``duplicate_resends``)."""
        with self._lock:
            self._resends += n
            self.resends_total += n
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
            heard = self._heard_at if self._heard_at is not None and (
                force or now - self._heard_written >= HEARD_WRITE_S) else None
            if heard is None and (not self._dirty or (not force and now - self._written_at < self.interval_s)):
                return
            values: dict[str, object] = {}
            if heard is not None:
                values["heard_at"] = heard
                self._heard_at, self._heard_written = None, now
            if self._messages:
                values["message_count"] = Instrument.message_count + self._messages
            if self._errors:
                values["error_count"] = Instrument.error_count + self._errors
            if self._resends:
                values["duplicate_resends"] = Instrument.duplicate_resends + self._resends
            if self._last is not None:
                values["last_message_at"] = self._last
            if self._connected is not None:
                values["connected"] = self._connected
            pending = (self._messages, self._errors, self._resends)
            self._messages = self._errors = self._resends = 0
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
                if heard is not None and self._heard_at is None:
                    self._heard_at = heard
                self._messages += pending[0]
                self._errors += pending[1]
                self._resends += pending[2]
                self._dirty = True
            raise
