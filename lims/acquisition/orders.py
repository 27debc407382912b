"""Worklists built from the lab's batches, and the orders that go down to instruments (issue 13: both
directions).

A worklist is position → sample code → analyses, built from what the lab defined — never hand-written:

- from a batch (:func:`build_worklist` with ``batch_code``): its open analyses (pending or in analysis, no
  standing result), one position per sample in the order the analyses were added;
- from the open queue of an instrument (``instrument_code`` only): the open analyses of the open batches
  assigned to it, oldest batch first.

:func:`send_worklist` stores it for the instrument (``instrument_worklist``, audited); ``lims acquire`` then
sends it the way the instrument's profile takes it — ASTM E1394 order records (:mod:`.dialects.astm`),
sample IDs written into Modbus holding registers (:mod:`.dialects.modbus`), or, for testers without a
sample ID on the wire, the channel → sample map applied to the next run (:func:`take_channel_worklist`,
:func:`lims.acquisition.worklist.apply_worklist`).
An ASTM host query is answered from the same open work (:func:`query_orders`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from drivers.codecs.astm.orders import Order
from lims.clock import utcnow
from lims.db.models import Analysis, Batch, Instrument, InstrumentWorklist, Sample
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import find_by_code
from lims.services.results_guard import without_current_result

OPEN_ANALYSIS = ("pending", "in_analysis")
#: ``instrument_worklist.status`` values
PENDING, SENT, APPLIED, FAILED, CANCELLED = "pending", "sent", "applied", "failed", "cancelled"
MAX_POSITIONS = 500


class OrderedAnalysis(TypedDict):
    analysis_id: int
    test_code: str  # the analyte's code: O.5 ^^^CODE, and the R.3 code a data system sends back
    method: str
    kind: str


class WorklistEntry(TypedDict):
    position: int
    sample_code: str
    analyses: list[OrderedAnalysis]


class Worklist(TypedDict):
    """A worklist as built (not yet stored): where it came from and its positions."""

    instrument: str | None
    batch: str | None
    source: str  # "batch" | "queue"
    entries: list[WorklistEntry]


class StoredWorklist(TypedDict):
    id: int
    instrument: str
    batch: str | None
    status: str
    created_at: str | None
    created_by: str
    sent_at: str | None
    run_no: str
    detail: str
    entries: list[WorklistEntry]


def _entries(analyses: Iterable[Analysis]) -> list[WorklistEntry]:
    """One position per sample, in first-appearance order, each with its analyses."""
    by_sample: dict[str, WorklistEntry] = {}
    for a in analyses:
        entry = by_sample.get(a.sample.code)
        if entry is None:
            entry = by_sample[a.sample.code] = {"position": len(by_sample) + 1, "sample_code": a.sample.code,
                                                "analyses": []}
        entry["analyses"].append({"analysis_id": a.id, "test_code": a.analyte.code, "method": a.method.code,
                                  "kind": a.kind})
    return list(by_sample.values())


def _open() -> Any:
    return [Analysis.status.in_(OPEN_ANALYSIS), without_current_result()]


def _instrument(s: Session, code: str) -> Instrument:
    inst = find_by_code(s, Instrument, code)
    if inst is None:
        raise NotFound(f"instrument {code} not found", field="instrument", code="instrument.not_found")
    return inst


def build_worklist(s: Session, *, batch_code: str | None = None, instrument_code: str | None = None) -> Worklist:
    """The worklist of batch ``batch_code`` (for ``instrument_code`` or the batch's own instrument), or of
    the open queue of instrument ``instrument_code`` (module docstring). :class:`NotFound` for an unknown
    batch or instrument; :class:`InvalidInput` when neither is named."""
    if batch_code is None:
        if instrument_code is None:
            raise InvalidInput("name a batch or an instrument", field="batch", code="worklist.no_source")
        inst = _instrument(s, instrument_code)
        rows = s.execute(select(Analysis).join(Batch, Batch.id == Analysis.batch_id).where(
            Batch.instrument_id == inst.id, Batch.status == "open", *_open())
            .order_by(Batch.id, Analysis.id)).scalars().all()
        return {"instrument": inst.code, "batch": None, "source": "queue", "entries": _entries(rows)}
    batch = find_by_code(s, Batch, batch_code)
    if batch is None:
        raise NotFound(f"batch {batch_code} not found", field="batch", code="batch.not_found")
    inst = _instrument(s, instrument_code) if instrument_code is not None else (
        s.get(Instrument, batch.instrument_id) if batch.instrument_id is not None else None)
    inst_code = inst.code if inst is not None else None
    rows = s.execute(select(Analysis).where(Analysis.batch_id == batch.id, *_open())
                     .order_by(Analysis.id)).scalars().all()
    return {"instrument": inst_code, "batch": batch.code, "source": "batch", "entries": _entries(rows)}


def stored_row(w: InstrumentWorklist, instrument: str, batch: str | None) -> StoredWorklist:
    return {"id": w.id, "instrument": instrument, "batch": batch, "status": w.status,
            "created_at": w.created_at.isoformat() if w.created_at else None, "created_by": w.created_by,
            "sent_at": w.sent_at.isoformat() if w.sent_at else None, "run_no": w.run_no, "detail": w.detail,
            "entries": list(w.entries)}


def download_kind(profile_name: str) -> str | None:
    """How an instrument of this profile takes a worklist: ``astm`` (order records), ``modbus`` (sample-ID
    registers, when its profile declares ``[modbus.worklist]``), ``channels`` (a tester without sample IDs
    on the wire: the next run's channel map); None when it takes none (it sends sample IDs itself, or it is
    a watch folder)."""
    from drivers.errors import ProfileError
    from drivers.profiles import load_profile

    try:
        profile = load_profile(profile_name)
    except ProfileError:
        return None
    if profile.dialect == "astm":
        return "astm"
    if profile.dialect == "modbus":
        return "modbus" if profile.modbus is not None and profile.modbus.worklist is not None else None
    return "channels" if profile.dialect == "binary_frame" else None


def send_worklist(s: Session, instrument_code: str, *, batch_code: str | None = None) -> StoredWorklist:
    """Store the worklist of ``batch_code`` (or of the instrument's open queue) for ``lims acquire`` to send
    to instrument ``instrument_code`` (audited: the row is a record). A pending worklist of the instrument
    not yet sent is cancelled (superseded). :class:`Conflict` ``worklist.not_supported`` for an instrument
    that takes no worklist (:func:`download_kind`), ``worklist.empty`` when no open analysis is left,
    ``worklist.too_long`` over :data:`MAX_POSITIONS` positions."""
    wl = build_worklist(s, batch_code=batch_code, instrument_code=instrument_code)
    inst = _instrument(s, instrument_code)
    if download_kind(inst.profile) is None:
        raise Conflict(f"instrument {instrument_code} (profile {inst.profile}) takes no worklist: it sends the "
                       "sample IDs itself, or its profile declares no download", field="instrument",
                       code="worklist.not_supported")
    if not wl["entries"]:
        raise Conflict(f"no open analysis to send to {instrument_code}"
                       + (f" in batch {batch_code}" if batch_code else ""), field="batch", code="worklist.empty")
    if len(wl["entries"]) > MAX_POSITIONS:
        raise Conflict(f"{len(wl['entries'])} positions, at most {MAX_POSITIONS}", field="batch",
                       code="worklist.too_long")
    batch = find_by_code(s, Batch, batch_code) if batch_code else None
    row = InstrumentWorklist(instrument_id=inst.id, batch_id=batch.id if batch else None, entries=wl["entries"],
                             status=PENDING, created_by=str(s.info.get("actor") or "system"), run_no="", detail="")
    s.add(row)
    s.flush()
    for old in s.execute(select(InstrumentWorklist).where(
            InstrumentWorklist.instrument_id == inst.id, InstrumentWorklist.status == PENDING,
            InstrumentWorklist.id != row.id)).scalars():
        old.status, old.detail = CANCELLED, f"superseded by worklist {row.id}"
    s.flush()
    return stored_row(row, inst.code, wl["batch"])


def list_worklists(s: Session, instrument_code: str, *, limit: int = 20) -> list[StoredWorklist]:
    """The instrument's stored worklists, newest first."""
    inst = _instrument(s, instrument_code)
    rows = s.execute(select(InstrumentWorklist, Batch.code).outerjoin(Batch, Batch.id == InstrumentWorklist.batch_id)
                     .where(InstrumentWorklist.instrument_id == inst.id)
                     .order_by(InstrumentWorklist.id.desc()).limit(limit)).all()
    return [stored_row(w, inst.code, b) for w, b in rows]


# --------------------------------------------------------------------------- the acquisition side


def pending_worklist(s: Session, instrument_id: int) -> InstrumentWorklist | None:
    """The oldest worklist waiting to be sent to the instrument."""
    return s.execute(select(InstrumentWorklist).where(
        InstrumentWorklist.instrument_id == instrument_id, InstrumentWorklist.status == PENDING)
        .order_by(InstrumentWorklist.id).limit(1)).scalar_one_or_none()


def settle_worklist(s: Session, worklist_id: int, status: str, detail: str = "", *, run_no: str = "") -> None:
    """Record what became of a pending worklist (sent, applied to run ``run_no``, failed with ``detail``);
    a worklist no longer pending (cancelled meanwhile) is left as it is."""
    row = s.get(InstrumentWorklist, worklist_id)
    if row is None or row.status != PENDING:
        return
    row.status, row.detail, row.sent_at, row.run_no = status, detail[:2000], utcnow(), run_no[:30]
    s.flush()  # an ORM change: audited, as the person's request that created it


def worklist_orders(entries: Sequence[dict[str, Any]]) -> list[Order]:
    """ASTM orders of a stored worklist: O.3 sample code, O.4 position, O.5 the analytes' codes."""
    return [Order(str(e["sample_code"]), tuple(dict.fromkeys(str(a["test_code"]) for a in e["analyses"])),
                  str(e["position"])) for e in entries]


def query_orders(s: Session, instrument_id: int, specimen_ids: Sequence[str]) -> dict[str, Order]:
    """Orders known for the specimens an instrument asked about (an ASTM host query): the open analyses of
    each sample in the open batches assigned to this instrument — the work the lab defined for it (a
    sample's analyses on other instruments or in no batch are not this instrument's to run)."""
    if not specimen_ids:
        return {}
    rows = s.execute(select(Analysis).join(Sample, Sample.id == Analysis.sample_id)
                     .join(Batch, Batch.id == Analysis.batch_id).where(
        Sample.code.in_(list(specimen_ids)), *_open(), Batch.instrument_id == instrument_id,
        Batch.status == "open").order_by(Batch.id, Analysis.id)).scalars().all()
    return {o.specimen_id: o for o in worklist_orders(_entries(rows))}


def take_channel_worklist(s: Session, instrument_id: int) -> tuple[int, dict[int, str]] | None:
    """For a tester without sample IDs on the wire: the oldest pending worklist as a channel → sample map
    (position = channel), with its id for :func:`settle_worklist` (applied, or failed); ``None`` when none
    is pending (:func:`lims.acquisition.worklist.apply_worklist`)."""
    row = pending_worklist(s, instrument_id)
    if row is None:
        return None
    return row.id, {int(e["position"]): str(e["sample_code"]) for e in row.entries}
