"""Participant side: rounds of any provider this lab took part in, the scores reported back,
running performance per analyte, and nonconformities opened by unsatisfactory scores.

An unsatisfactory score (|z| ≥ 3, ISO 13528:2022 9.4.2; or |E_n| ≥ 1, 9.7.2) opens a
nonconformity record in the same transaction (ISO/IEC 17025:2017 7.10 nonconforming work, 8.7
corrective action: react, root cause, implement, verify effectiveness). The PT sample is registered
as a normal sample (:func:`register_pt_sample`), runs through the normal sample workflow and is linked
to its participation; :func:`performance_chart` draws the scores of one analyte over time.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models import Lab, Sample
from lims.db.models_pt import Nonconformity, NonconformityStatus, PtExternalScore, PtParticipation
from lims.services import sampling
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import get_by_code
from lims.workflow import transition
from proficiency import combined, scores
from proficiency.errors import ProficiencyError

if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing

#: Days given to the corrective action of a PT nonconformity unless another due date is given.
DEFAULT_DUE_DAYS = 30
NC_ORDER = (NonconformityStatus.OPEN, NonconformityStatus.ROOT_CAUSE, NonconformityStatus.ACTION,
            NonconformityStatus.VERIFIED, NonconformityStatus.CLOSED)
#: Label of this laboratory's series in the running performance (one series per analyte).
OWN_LAB = "本实验室"


def _sample_id(s: Session, sample_code: str | None) -> int | None:
    if not sample_code:
        return None
    return get_by_code(s, Sample, sample_code, field="sample_code").id


def _lab_id(s: Session, lab_code: str) -> int:
    return get_by_code(s, Lab, lab_code, field="lab_code").id


def record_participation(s: Session, *, provider_name: str, round_code: str, round_date: dt.date,
                         scheme_name: str = "", lab_code: str | None = None, sample_code: str | None = None,
                         participant_code: str = "", responsible: str = "") -> PtParticipation:
    """Record a round of any provider; ``sample_code`` links the PT sample registered as a normal sample."""
    if not provider_name.strip():
        raise InvalidInput("provider name is missing", field="provider_name")
    if not round_code.strip():
        raise InvalidInput("round code is missing", field="round_code")
    if s.execute(select(PtParticipation.id).where(PtParticipation.provider_name == provider_name,
                                                  PtParticipation.round_code == round_code)).first():
        raise Conflict(f"round {round_code} of {provider_name} is already recorded", field="round_code")
    lab_id = _lab_id(s, lab_code) if lab_code else None
    p = PtParticipation(provider_name=provider_name, round_code=round_code, scheme_name=scheme_name, lab_id=lab_id,
                        sample_id=_sample_id(s, sample_code), participant_code=participant_code,
                        round_date=round_date, responsible=responsible)
    s.add(p)
    s.flush()
    return p


def get_participation(s: Session, participation_id: int) -> PtParticipation:
    p = s.get(PtParticipation, participation_id)
    if p is None:
        raise NotFound(f"participation {participation_id} not found", field="participation_id")
    return p


def link_sample(s: Session, participation_id: int, sample_code: str) -> PtParticipation:
    """Link the PT sample (registered and tested in the normal workflow) to the participation."""
    p = get_participation(s, participation_id)
    p.sample_id = _sample_id(s, sample_code)
    return p


def register_pt_sample(s: Session, participation_id: int, *, code: str, commodity_code: str,
                       sampled_at: dt.datetime, region_code: str, sampling_link: str, samplers: list[str],
                       sampling_place: str = "", description: str = "", quantity: str = "",
                       requested: list[tuple[str, str]] | None = None) -> Sample:
    """Register the PT test item as a normal sample (:func:`lims.services.sampling.register_sample`:
    same checks, same workflow — receipt, analyses, results, review) and link it to the participation.

    ``sampled_at`` is when the provider dispatched the item; ``sampling_place`` defaults to the
    provider; ``description`` to "能力验证样品 <provider> <round>". A participation has one PT sample."""
    p = get_participation(s, participation_id)
    if p.sample_id is not None:
        linked = s.get(Sample, p.sample_id)
        raise Conflict(f"round {p.round_code} already has its PT sample {linked.code if linked else p.sample_id}",
                       field="participation_id")
    sample = sampling.register_sample(s, sampling.RegisterSample(
        code=code, commodity_code=commodity_code, sampled_at=sampled_at,
        sampling_place=sampling_place or f"能力验证组织者 / PT provider: {p.provider_name}",
        region_code=region_code, sampling_link=sampling_link, samplers=samplers,
        description=description or f"能力验证样品 {p.provider_name} {p.round_code}", quantity=quantity,
        requested=tuple(requested or ())))
    p.sample_id = sample.id
    s.flush()
    return sample


def _finite(name: str, value: float | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or (positive and value <= 0) or value < 0:
        rel = "> 0" if positive else ">= 0"
        raise InvalidInput(f"{name} must be a finite number {rel} (got {value!r})", field=name)


def is_unsatisfactory(z: float, en: float | None) -> bool:
    """|z| ≥ 3 (9.4.2) or |E_n| ≥ 1 (9.7.2)."""
    return scores.classify_z(z) == scores.UNSATISFACTORY or (en is not None and scores.en_action(en))


@dataclass(frozen=True)
class RecordExternalScore:
    """The provider's report for one analyte of a participation: the result, x_pt, σ_pt and u(x_pt),
    the laboratory's U with its k, and z/E_n when the provider gave them (else they are computed);
    ``owner``/``due_date`` of the nonconformity an unsatisfactory score opens."""

    analyte: str
    result: float
    assigned_value: float
    sigma_pt: float
    unit: str = "mg/kg"
    u_assigned: float | None = None
    expanded_uncertainty: float | None = None
    coverage_factor: float = 2.0
    z: float | None = None
    en: float | None = None
    owner: str | None = None
    due_date: dt.date | None = None


def _check_external_score(cmd: RecordExternalScore) -> None:
    if not cmd.analyte.strip():
        raise InvalidInput("analyte is missing", field="analyte")
    _finite("result", cmd.result)
    _finite("assigned_value", cmd.assigned_value)
    _finite("sigma_pt", cmd.sigma_pt, positive=True)
    _finite("u_assigned", cmd.u_assigned)
    _finite("expanded_uncertainty", cmd.expanded_uncertainty)
    _finite("coverage_factor", cmd.coverage_factor, positive=True)
    for name, v in (("z", cmd.z), ("en", cmd.en)):
        if v is not None and not math.isfinite(v):
            raise InvalidInput(f"{name} must be a finite number (got {v!r})", field=name)


def record_external_score(s: Session, participation_id: int, cmd: RecordExternalScore, *,
                          today: dt.date | None = None) -> PtExternalScore:
    """Store the provider's score for one analyte (computed with :func:`proficiency.scores.score_result`
    from x_pt, σ_pt and u(x_pt) when the provider gave none). An unsatisfactory score opens a
    nonconformity in the same transaction."""
    p = get_participation(s, participation_id)
    _check_external_score(cmd)
    if s.execute(select(PtExternalScore.id).where(PtExternalScore.participation_id == p.id,
                                                  PtExternalScore.analyte == cmd.analyte)).first():
        raise Conflict(f"{cmd.analyte} of round {p.round_code} already has a score", field="analyte")
    try:
        ps = scores.score_result(cmd.result, cmd.assigned_value, cmd.sigma_pt, cmd.u_assigned or 0.0,
                                 expanded_u_result=cmd.expanded_uncertainty, coverage_factor=cmd.coverage_factor)
    except ProficiencyError as exc:
        raise InvalidInput(str(exc), field="sigma_pt" if "sigma" in str(exc) else "result") from None
    statistic = ps.statistic if cmd.z is None else "z"
    z_value = ps.score if cmd.z is None else cmd.z
    en_value = ps.en if cmd.en is None else cmd.en
    row = PtExternalScore(participation_id=p.id, analyte=cmd.analyte, unit=cmd.unit, result=cmd.result,
                          assigned_value=cmd.assigned_value, sigma_pt=cmd.sigma_pt, u_assigned=cmd.u_assigned,
                          expanded_uncertainty=cmd.expanded_uncertainty, statistic=statistic, z=z_value, en=en_value,
                          classification=scores.classify_z(z_value))
    s.add(row)
    if is_unsatisfactory(z_value, en_value):
        today = today or dt.date.today()
        en_text = f"，En = {en_value:.2f}" if en_value is not None else ""
        nc = Nonconformity(
            source="pt", source_ref=f"{p.provider_name} / {p.round_code} / {cmd.analyte}",
            description=(f"能力验证结果不满意：{p.provider_name} {p.round_code}，{cmd.analyte} 结果 {cmd.result:g} "
                         f"{cmd.unit}，指派值 {cmd.assigned_value:g}，σ_pt {cmd.sigma_pt:g}，"
                         f"{statistic} = {z_value:.2f}{en_text}。"
                         "需分析根本原因并采取纠正措施（ISO/IEC 17025:2017 7.10, 8.7）。"),
            owner=cmd.owner or p.responsible, due_date=cmd.due_date or today + dt.timedelta(days=DEFAULT_DUE_DAYS))
        s.add(nc)
        s.flush()
        row.nonconformity_id = nc.id
    s.flush()
    return row


@dataclass(frozen=True)
class PerformancePoint:
    analyte: str
    round_code: str
    round_date: dt.date
    z: float
    classification: str
    n: int
    rsz: float
    ssz: float
    az2: float


def running_performance(s: Session, *, analyte: str | None = None, window: int = 5,
                        lab_code: str | None = None) -> list[PerformancePoint]:
    """This lab's scores over time with running RSZ, SSZ and AZ² per analyte over the last ``window``
    rounds (:func:`proficiency.combined.running_performance`); ``lab_code`` keeps only the
    participations recorded for that laboratory."""
    q = (select(PtExternalScore, PtParticipation)
         .join(PtParticipation, PtParticipation.id == PtExternalScore.participation_id)
         .order_by(PtParticipation.round_date, PtParticipation.id))
    if analyte is not None:
        q = q.where(PtExternalScore.analyte == analyte)
    if lab_code is not None:
        q = q.where(PtParticipation.lab_id == _lab_id(s, lab_code))
    rows = s.execute(q).all()
    records, meta = [], {}
    for i, (sc, part) in enumerate(rows):
        order = float(i)  # rows come in date order; ties keep the order they were recorded in
        records.append(combined.ScoreRecord(OWN_LAB, sc.analyte, order, sc.z))
        meta[(sc.analyte, order)] = (part.round_code, part.round_date, sc.z, sc.classification)
    try:
        running = combined.running_performance(records, window=window)
    except ProficiencyError as exc:
        raise InvalidInput(str(exc), field="window") from None
    out = []
    for r in running:
        code, date, z, cls = meta[(r.analyte, r.order)]
        out.append(PerformancePoint(r.analyte, code, date, z, cls, r.n, r.rsz, r.ssz, r.az2))
    return out


def performance_chart(s: Session, analyte: str, *, window: int = 5, lab_code: str | None = None,
                      width: float = 480, height: float = 220) -> Drawing:
    """Chart of this lab's scores for ``analyte`` round after round with the running RSZ over
    ``window`` rounds (:func:`lims.pt.charts.z_trend_chart`); NotFound when it has no score."""
    if not analyte.strip():
        raise InvalidInput("analyte is missing", field="analyte")
    points = running_performance(s, analyte=analyte, window=window, lab_code=lab_code)
    if not points:
        raise NotFound(f"no PT score recorded for {analyte}", field="analyte")
    from lims.pt import charts  # reportlab: loaded with the first chart, not with the web app

    trend = [charts.TrendPoint(p.round_code, p.round_date.isoformat(), p.z, p.rsz) for p in points]
    return charts.z_trend_chart(trend, title=f"{analyte} 能力验证得分趋势 / PT scores over time", width=width,
                                height=height)


def get_nonconformity(s: Session, nc_id: int) -> Nonconformity:
    nc = s.get(Nonconformity, nc_id)
    if nc is None:
        raise NotFound(f"nonconformity {nc_id} not found", field="nonconformity_id")
    return nc


def advance_nonconformity(s: Session, nc_id: int, status: str, *, note: str,
                          now: dt.datetime | None = None) -> Nonconformity:
    """Move a nonconformity one step: open → root_cause → action → verified → closed (8.7.1).

    ``note`` is the root cause, the action taken or the verification of its effectiveness."""
    nc = get_nonconformity(s, nc_id)
    if status not in NC_ORDER:
        raise InvalidInput(f"status must be one of {', '.join(NC_ORDER)}", field="status")
    current = NC_ORDER.index(NonconformityStatus(nc.status))
    if NC_ORDER.index(NonconformityStatus(status)) != current + 1:
        nxt = NC_ORDER[current + 1] if current + 1 < len(NC_ORDER) else "none"
        raise Conflict(f"nonconformity {nc_id} is {nc.status}: the next step is {nxt}", field="status")
    if not note.strip():
        raise InvalidInput("a note is required (root cause, action or verification)", field="note")
    if status == NonconformityStatus.ROOT_CAUSE:
        nc.root_cause = note
    elif status == NonconformityStatus.ACTION:
        nc.action = note
    elif status == NonconformityStatus.VERIFIED:
        nc.verification = note
    else:
        nc.verification = f"{nc.verification}\n关闭 / closed: {note}".strip()
        nc.closed_at = now or utcnow()
    transition(nc, status)
    return nc


def list_nonconformities(s: Session, *, status: str | None = None) -> list[Nonconformity]:
    q = select(Nonconformity).order_by(Nonconformity.id)
    if status is not None:
        q = q.where(Nonconformity.status == status)
    return list(s.execute(q).scalars())
