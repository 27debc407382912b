"""Reagents, standards and reference materials (ISO/IEC 17025:2017 6.6, 6.5; RB/T 214 4.4.4): lots with
supplier, certificate, concentration and uncertainty, expiry, opened date and in-use life, storage;
standard solutions prepared in the lab with their derivation (parent lot, dilution factor, preparer); the
batches and curves that used each lot. An expired lot — past its expiry date, or past its in-use life
after opening — is refused by the batch or curve that would use it (:func:`use_lots`, called by
lims.services.batches). Services take a Session and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models import Batch, CalibrationCurve
from lims.db.models_registers import MaterialLot, MaterialUse
from lims.quality.common import choice, ordered, text
from lims.quality.registers_vocab import MaterialKind
from lims.services.errors import Conflict, InvalidInput
from lims.services.lookup import code_exists, get_by_code


@dataclass(frozen=True)
class NewLot:
    code: str
    kind: str
    name: str
    expires_on: dt.date
    analyte_code: str = ""
    supplier: str = ""
    lot_no: str = ""
    certificate_no: str = ""
    concentration: float | None = None
    concentration_unit: str = ""
    uncertainty: float | None = None
    manufactured_on: dt.date | None = None
    opened_on: dt.date | None = None
    in_use_days: int | None = None
    storage: str = ""


def _checked(lot: NewLot) -> None:
    ordered(lot.manufactured_on, lot.expires_on, "manufactured_on", "expires_on")
    ordered(lot.manufactured_on, lot.opened_on, "manufactured_on", "opened_on")
    for name in ("concentration", "uncertainty"):
        v = getattr(lot, name)
        if v is not None and not (v >= 0 and v < float("inf")):
            raise InvalidInput(f"{name} must be a finite number ≥ 0 (got {v})", field=name, code="quality.bad_value")
    if lot.in_use_days is not None and lot.in_use_days <= 0:
        raise InvalidInput("in_use_days must be positive", field="in_use_days", code="quality.bad_value")


def add_lot(s: Session, lot: NewLot) -> MaterialLot:
    """Receive a lot of a reagent, standard or reference material."""
    if code_exists(s, MaterialLot, lot.code):
        raise Conflict(f"material lot {lot.code} already exists", field="code", code="material.exists")
    _checked(lot)
    row = MaterialLot(code=text(lot.code, "code"), kind=choice(MaterialKind, lot.kind, "kind"),
                      name=text(lot.name, "name"), analyte_code=lot.analyte_code.strip(), supplier=lot.supplier.strip(),
                      lot_no=lot.lot_no.strip(), certificate_no=lot.certificate_no.strip(),
                      concentration=lot.concentration, concentration_unit=lot.concentration_unit.strip(),
                      uncertainty=lot.uncertainty, manufactured_on=lot.manufactured_on, expires_on=lot.expires_on,
                      opened_on=lot.opened_on, in_use_days=lot.in_use_days, storage=lot.storage.strip())
    s.add(row)
    s.flush()
    return row


def prepare_solution(s: Session, *, code: str, parent_code: str, dilution_factor: float, prepared_by: str,
                     prepared_on: dt.date, expires_on: dt.date, name: str = "", storage: str = "") -> MaterialLot:
    """A standard solution prepared in the lab from ``parent_code``: concentration and uncertainty follow
    from the parent by the dilution factor (relative uncertainty kept); it never outlives its parent."""
    parent = get_by_code(s, MaterialLot, parent_code, field="parent_code", what="material lot")
    if not dilution_factor >= 1 or dilution_factor == float("inf"):
        raise InvalidInput(f"dilution_factor must be ≥ 1 (got {dilution_factor})", field="dilution_factor",
                           code="quality.bad_value")
    refuse_expired([parent], prepared_on, field="parent_code")
    ordered(prepared_on, expires_on, "prepared_on", "expires_on")
    if expires_on > parent.expires_on:
        expires_on = parent.expires_on
    conc = parent.concentration / dilution_factor if parent.concentration is not None else None
    unc = parent.uncertainty / dilution_factor if parent.uncertainty is not None else None
    row = add_lot(s, NewLot(code=code, kind=MaterialKind.SOLUTION, name=name or f"{parent.name} 1:{dilution_factor:g}",
                            expires_on=expires_on, analyte_code=parent.analyte_code, concentration=conc,
                            concentration_unit=parent.concentration_unit, uncertainty=unc,
                            manufactured_on=prepared_on, opened_on=prepared_on, storage=storage))
    row.parent_lot_id, row.dilution_factor, row.prepared_by = parent.id, dilution_factor, text(prepared_by, "prepared_by")
    s.flush()
    return row


def usable_until(lot: MaterialLot) -> dt.date:
    """The last day the lot may be used: its expiry, or opened date + in-use life if earlier."""
    end = lot.expires_on
    if lot.opened_on is not None and lot.in_use_days:
        end = min(end, lot.opened_on + dt.timedelta(days=lot.in_use_days))
    return end


def refuse_expired(lots: Sequence[MaterialLot], on: dt.date, *, field: str = "material_lots") -> None:
    for lot in lots:
        end = usable_until(lot)
        if end < on:
            why = "in-use life after opening ended" if end < lot.expires_on else "expired"
            raise Conflict(f"material lot {lot.code} ({lot.name}) {why} on {end}; it cannot be used on {on}",
                           field=field, code="material.expired")


def usable_lots(s: Session, codes: Sequence[str], *, on: dt.date | None = None) -> list[MaterialLot]:
    """The lots named, refused (409 ``material.expired``) if any is expired or past its in-use life on ``on``."""
    lots = [get_by_code(s, MaterialLot, c, field="material_lots", what="material lot") for c in codes]
    refuse_expired(lots, on or utcnow().date())
    return lots


def use_lots(s: Session, batch: Batch, codes: Sequence[str], *, curve: CalibrationCurve | None = None,
             on: dt.date | None = None) -> list[MaterialUse]:
    """Link lots to the batch (and curve) using them; an expired lot refuses the whole request."""
    on = on or utcnow().date()
    lots = usable_lots(s, codes, on=on)
    uses = [MaterialUse(lot_id=lot.id, batch_id=batch.id, curve_id=curve.id if curve else None, used_on=on)
            for lot in lots]
    s.add_all(uses)
    s.flush()
    return uses


def derivation(s: Session, code: str) -> list[MaterialLot]:
    """The lot and its ancestors, the lot first."""
    lot: MaterialLot | None = get_by_code(s, MaterialLot, code, field="code", what="material lot")
    chain = []
    while lot is not None and len(chain) < 20:
        chain.append(lot)
        lot = s.get(MaterialLot, lot.parent_lot_id) if lot.parent_lot_id else None
    return chain


def uses_of(s: Session, code: str) -> list[tuple[str, int | None, dt.date]]:
    """(batch code, curve id, date) of every use of the lot."""
    lot = get_by_code(s, MaterialLot, code, field="code", what="material lot")
    rows = s.execute(select(Batch.code, MaterialUse.curve_id, MaterialUse.used_on).join(Batch, Batch.id == MaterialUse.batch_id)
                     .where(MaterialUse.lot_id == lot.id).order_by(MaterialUse.id)).all()
    return [(r[0], r[1], r[2]) for r in rows]


def list_lots(s: Session, *, expiring_within_days: int | None = None, today: dt.date | None = None) -> list[MaterialLot]:
    lots = list(s.execute(select(MaterialLot).order_by(MaterialLot.expires_on, MaterialLot.code)).scalars())
    if expiring_within_days is None:
        return lots
    horizon = (today or utcnow().date()) + dt.timedelta(days=expiring_within_days)
    return [lot for lot in lots if usable_until(lot) <= horizon]
