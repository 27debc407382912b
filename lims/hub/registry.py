"""The hub's lab registry: labs (and lower hubs that relay), their allowed region and their Ed25519 keys.

A second key for a lab is a rotation: every key that is not retired verifies, so a backlog signed with the
old key drains while new messages carry the new one; ``retire_key`` ends the overlap.
Services take a Session and never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models_hub import HubLab, HubLabKey
from lims.services.errors import InvalidInput, NotFound

LAB_KINDS = ("lab", "hub")


@dataclass(frozen=True)
class KeyView:
    fingerprint: str
    created_at: dt.datetime | None
    retired_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.retired_at is None


@dataclass(frozen=True)
class LabView:
    code: str
    name: str
    region_code: str
    kind: str
    keys: tuple[KeyView, ...]


def key_fingerprint(public_pem: str) -> str:
    """SHA-256 of the raw public key, first 32 hex digits (as lims.upstream.signing.fingerprint);
    InvalidInput when the text is no Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"public key: not a PEM public key ({exc})", code="hub.key_invalid") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("public key: not an Ed25519 key", code="hub.key_invalid")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def _check_region(region_code: str) -> str:
    if region_code and not (len(region_code) == 6 and region_code.isdigit()):
        raise InvalidInput(f"region: {region_code!r} is no GB/T 2260 code (6 digits)", code="hub.region_invalid")
    return region_code


def add_lab_key(s: Session, code: str, public_pem: str, *, region_code: str | None = None,
                name: str | None = None, kind: str | None = None) -> LabView:
    """Register ``code`` (created when new; region/name/kind updated when given) and add the key (a second
    key is a rotation; the same key twice changes nothing)."""
    if not code or len(code) > 40:
        raise InvalidInput("lab code: 1 to 40 characters", code="hub.lab_code_invalid")
    if kind is not None and kind not in LAB_KINDS:
        raise InvalidInput(f"kind: one of {', '.join(LAB_KINDS)}", code="hub.lab_kind_invalid")
    fp = key_fingerprint(public_pem)
    lab = s.execute(select(HubLab).where(HubLab.code == code)).scalar_one_or_none()
    if lab is None:
        lab = HubLab(code=code, name=name or "", region_code=_check_region(region_code or ""), kind=kind or "lab")
        s.add(lab)
    else:
        lab.name = name if name is not None else lab.name
        lab.region_code = _check_region(region_code) if region_code is not None else lab.region_code
        lab.kind = kind or lab.kind
    key = s.execute(select(HubLabKey).where(HubLabKey.lab_code == code, HubLabKey.fingerprint == fp)
                    ).scalar_one_or_none()
    if key is None:
        s.add(HubLabKey(lab_code=code, public_key_pem=public_pem, fingerprint=fp, created_at=utcnow()))
    elif key.retired_at is not None:
        raise InvalidInput(f"key {fp} of {code} was retired; a retired key is not re-registered", code="hub.key_retired")
    s.flush()
    return lab_view(s, code)


def retire_key(s: Session, code: str, fingerprint: str) -> LabView:
    key = s.execute(select(HubLabKey).where(HubLabKey.lab_code == code, HubLabKey.fingerprint == fingerprint)
                    ).scalar_one_or_none()
    if key is None:
        raise NotFound(f"lab {code} has no key with fingerprint {fingerprint}", code="hub.key_not_found")
    if key.retired_at is None:
        key.retired_at = utcnow()
    s.flush()
    return lab_view(s, code)


def find_lab(s: Session, code: str) -> HubLab | None:
    return s.execute(select(HubLab).where(HubLab.code == code)).scalar_one_or_none()


def lab_and_keys(s: Session, code: str) -> tuple[HubLab | None, list[str]]:
    """The lab and the PEMs of its keys that verify (one query: the receiver's hot path)."""
    rows = s.execute(select(HubLab, HubLabKey.public_key_pem).outerjoin(
        HubLabKey, (HubLabKey.lab_code == HubLab.code) & HubLabKey.retired_at.is_(None))
        .where(HubLab.code == code).order_by(HubLabKey.id.desc())).all()
    if not rows:
        return None, []
    return rows[0][0], [pem for _, pem in rows if pem is not None]


def active_keys(s: Session, code: str) -> list[str]:
    """PEMs of the lab's keys that verify (not retired), newest first."""
    return list(s.execute(select(HubLabKey.public_key_pem).where(HubLabKey.lab_code == code,
                                                                 HubLabKey.retired_at.is_(None))
                          .order_by(HubLabKey.id.desc())).scalars())


def key_by_fingerprint(s: Session, code: str, fp: str) -> str | None:
    """The PEM of a key the lab has registered (retired or not) with that fingerprint."""
    return s.execute(select(HubLabKey.public_key_pem).where(HubLabKey.lab_code == code,
                                                            HubLabKey.fingerprint == fp)).scalar_one_or_none()


def lab_view(s: Session, code: str) -> LabView:
    lab = find_lab(s, code)
    if lab is None:
        raise NotFound(f"lab {code} is not registered on this hub", code="hub.lab_not_found")
    keys = s.execute(select(HubLabKey).where(HubLabKey.lab_code == code).order_by(HubLabKey.id)).scalars()
    return LabView(code=lab.code, name=lab.name, region_code=lab.region_code, kind=lab.kind,
                   keys=tuple(KeyView(k.fingerprint, k.created_at, k.retired_at) for k in keys))


def list_labs(s: Session) -> list[LabView]:
    return [lab_view(s, c) for c in s.execute(select(HubLab.code).order_by(HubLab.code)).scalars()]


def region_prefix(region_code: str) -> str:
    """The GB/T 2260 prefix a region covers: 330000 → 33, 330100 → 3301, 330102 → 330102, '' → ''."""
    code = region_code
    while code.endswith("00") and code:
        code = code[:-2]
    return code


def region_allowed(allowed: str, region_code: str | None) -> bool:
    return not allowed or region_code is None or region_code.startswith(region_prefix(allowed))


def register_lab_key(s: Session, lab_code: str, public_key_pem: str) -> None:
    """Demo/tests: register (or rotate to) a lab's key with no region restriction."""
    add_lab_key(s, lab_code, public_key_pem)
