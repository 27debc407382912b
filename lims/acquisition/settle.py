"""Captures an earlier run committed but did not parse (``pending``), settled when the service starts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from drivers.errors import DriverError
from drivers.profiles import Profile
from lims.acquisition.dialects import Dialect, resolve
from lims.acquisition.ingest import Ingested, Tally
from lims.db.audit import append_events
from lims.db.engine import session_scope
from lims.db.models import Instrument, RawCapture


@dataclass
class PendingOutcome(Tally):
    """What :func:`settle_pending` did with the captures an earlier run left ``pending``."""

    parsed: int = 0
    incomplete: int = 0
    left_pending: int = 0  # their profile does not load (logged in ``problems``)
    problems: list[str] = field(default_factory=list)
    binary_runs: list[str] = field(default_factory=list)  # run numbers of binary replies parsed (worklists)
    file_errors: list[tuple[str, str, str]] = field(default_factory=list)  # (file name, sha256, error)

    def count(self, outcome: Ingested) -> None:
        super().count(outcome)
        if outcome.status == "parsed":
            self.parsed += 1

    def as_dict(self) -> dict[str, int]:
        return {"captures": self.captures, "parsed": self.parsed, "readings": self.readings,
                "duplicates": self.duplicates, "errors": self.errors, "incomplete": self.incomplete,
                "left_pending": self.left_pending}


def _by_profile(caps: list[RawCapture], out: PendingOutcome) -> list[tuple[Dialect, Profile | None, list[RawCapture]]]:
    """The captures grouped by the profile they were stored under (in order of first appearance), each with
    its dialect handler; captures whose profile does not load are left ``pending`` and named in ``out``."""
    groups: dict[str, tuple[Dialect, Profile | None, list[RawCapture]]] = {}
    broken: dict[str, str] = {}
    for cap in caps:
        if cap.profile not in groups and cap.profile not in broken:
            try:
                dialect, profile = resolve(cap.profile)
                groups[cap.profile] = (dialect, profile, [])
            except DriverError as exc:
                broken[cap.profile] = str(exc)
        if cap.profile in broken:
            out.problems.append(f"capture {cap.id}: profile {cap.profile!r} does not load: {broken[cap.profile]}")
            out.left_pending += 1
            continue
        groups[cap.profile][2].append(cap)
    return list(groups.values())


def settle_pending(factory: sessionmaker[Session], instrument_id: int, *, actor: str,
                   profiles: list[str] | None = None) -> PendingOutcome:
    """Parse the captures of one instrument left ``pending`` by an earlier run — the process stopped (kill -9,
    power cut, a runner crash) after committing the raw bytes and before parsing them — exactly as the live
    runner would have: a unit whose identity was parsed before becomes ``duplicate``, content that does not
    parse an ``error`` capture with its typed error, ASTM frames are settled per session
    (:meth:`~lims.acquisition.dialects.astm.AstmMessages.settle`). ``profiles`` limits it to captures stored
    under those profile names.

    Idempotent: one transaction moves every capture out of ``pending`` together with its readings, so a
    capture gives readings once; a second call finds nothing (on PostgreSQL a concurrent one skips the rows
    this one holds, on SQLite the write lock serialises them). A capture whose profile no longer loads stays
    ``pending`` and is named in ``problems``. One audit event records what was settled."""
    out = PendingOutcome()
    with session_scope(factory, actor=actor, reason="settle captures left pending by an earlier run") as s:
        q = select(RawCapture).where(RawCapture.instrument_id == instrument_id, RawCapture.parse_status == "pending")
        if profiles is not None:
            q = q.where(RawCapture.profile.in_(list(profiles)))
        caps = list(s.execute(q.order_by(RawCapture.id).with_for_update(skip_locked=True)).scalars().all())
        if not caps:
            return out
        out.captures = len(caps)
        for dialect, profile, group in _by_profile(caps, out):
            dialect.settle(s, group, profile, out)
        if out.errors:
            s.execute(update(Instrument.__table__).where(Instrument.__table__.c.id == instrument_id)
                      .values(error_count=Instrument.__table__.c.error_count + out.errors))
        s.flush()
        code = s.execute(select(Instrument.code).where(Instrument.id == instrument_id)).scalar_one()
        append_events(s, [("update", "raw_capture", f"instrument:{code}", {"pending": out.captures},
                           {"settled": out.as_dict()})])
    return out
