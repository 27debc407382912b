"""Re-parsing captures kept in ``error`` (after a profile fix): successes become readings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from drivers.profiles import Profile, load_profile
from lims.acquisition.dialects import FILE_PROFILE, Dialect, dialect_of
from lims.acquisition.ingest import AcquisitionStats
from lims.db.engine import session_scope
from lims.db.models import Instrument, RawCapture
from lims.services.lookup import find_by_code


def reparse_captures(factory: sessionmaker[Session], profile: Profile, *, actor: str,
                     instrument_id: int | None = None) -> AcquisitionStats:
    """Parse again every capture in error (of one instrument when ``instrument_id`` is given) with
    ``profile``; successes become readings."""
    stats = AcquisitionStats()
    with session_scope(factory, actor=actor, reason=f"re-parse with profile {profile.name}") as s:
        q = select(RawCapture).where(RawCapture.parse_status == "error")
        if instrument_id is not None:
            q = q.where(RawCapture.instrument_id == instrument_id)
        caps = list(s.execute(q.order_by(RawCapture.id)).scalars())
        dialect_of(profile).reparse(s, caps, profile, stats)
    return stats


def reparse_instrument(factory: sessionmaker[Session], code: str, *, actor: str,
                       profile: Profile | str | None = None) -> AcquisitionStats:
    """Parse again every capture in ``error`` of instrument ``code`` with its (fixed) profile, or with
    ``profile`` when given. ASTM captures are re-parsed per message (frames sharing ``unit_sha256``).
    One audit event records the re-parse (captures and readings themselves are evidence, not audited)."""
    with factory() as s:
        inst = find_by_code(s, Instrument, code)
        if inst is None:
            raise LookupError(f"no instrument with code {code!r}")
        instrument_id, profile_name = inst.id, inst.profile
    stats = AcquisitionStats()
    reason = f"re-parse captures in error of instrument {code}"
    with session_scope(factory, actor=actor, reason=reason) as s:
        caps = s.execute(select(RawCapture).where(RawCapture.instrument_id == instrument_id,
                                                  RawCapture.parse_status == "error")
                         .order_by(RawCapture.id)).scalars().all()
        groups: dict[str, tuple[Dialect, Profile | None, list[RawCapture]]] = {}
        for cap in caps:
            name = FILE_PROFILE if cap.profile == FILE_PROFILE else _profile_name(cap, profile, profile_name)
            if name not in groups:
                prof = _load(name, profile)
                groups[name] = (dialect_of(prof), prof, [])
            groups[name][2].append(cap)
        for dialect, prof, group in groups.values():
            dialect.reparse(s, group, prof, stats)
        s.info["audit_extra"] = [("update", "raw_capture", f"instrument:{code}", None,
                                  {"reparsed": len(caps), "readings": stats.readings, "errors": stats.errors})]
        s.flush()
    return stats


def _profile_name(cap: RawCapture, override: Profile | str | None, instrument_profile: str) -> str:
    if isinstance(override, Profile):
        return override.name
    return override if isinstance(override, str) else cap.profile or instrument_profile


def _load(name: str, override: Profile | str | None) -> Profile | None:
    if name == FILE_PROFILE:
        return None
    return override if isinstance(override, Profile) else load_profile(name)
