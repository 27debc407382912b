"""The demo day's quality registers (issue 15): a spare enzyme tester (EI-02) whose calibration is overdue —
its run, fed through the real acquisition runner, is held for review and the overdue calibration opens a
nonconformity — and an expired reference material that a batch refuses (409 ``material.expired``)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from hardware_sim.enzyme import ChannelReading, run_lines
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lims.acquisition import parse_config
from lims.acquisition.dialects import dialect_of
from lims.acquisition.service import ensure_instruments
from lims.acquisition.store import CaptureStore, StatusTracker
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import Analysis, Reading
from lims.db.models_quality import NcLink
from lims.quality import instruments as ins
from lims.quality import materials as mat
from lims.services import batches
from lims.services.errors import Conflict

QA = "wangfang"  # the demo's quality manager (lims.demo.reference.DEMO_USERS)
SPARE = "EI-02"


class _Wire:
    """The bytes of one printed run, handed to the runner as its serial link would (nothing written back)."""

    address = "demo://ei-02"

    def write(self, data: bytes) -> None:
        pass

    def connect(self, stop: threading.Event | None = None) -> bool:
        return True

    def read(self, timeout_s: float) -> bytes:
        return b""

    def close(self) -> None:
        pass


def _overdue_instrument(factory: sessionmaker[Session], today: dt.date) -> dict[str, Any]:
    cfg = parse_config(f'[[instrument]]\ncode = "{SPARE}"\nprofile = "enzyme_ascii_16ch"\ntransport = "/dev/null"\n')
    inst_id, _ = ensure_instruments(factory, cfg)[SPARE]
    with session_scope(factory, actor=QA, reason="instrument register") as s:
        ins.register(s, SPARE, asset_no="ZC-2019-007", location="快检室", calibration_interval_days=365)
        ins.record_check(s, SPARE, kind="calibration", performed_on=today - dt.timedelta(days=380), outcome="pass",
                         recorded_by=QA, provider="县计量检定所", certificate_no="JD-2025-0311",
                         acceptance="吸光度示值误差 ±0.005，合格")  # due 365 days later: 15 days overdue
    dialect = dialect_of(cfg.instruments[0].profile)
    store = CaptureStore(factory, inst_id, SPARE, "enzyme_ascii_16ch")
    runner = dialect.runner_class(cfg.instruments[0], _Wire(), store, StatusTracker(factory, inst_id),  # type: ignore[call-arg]
                                  threading.Event())
    try:
        runner.on_connect()  # type: ignore[attr-defined]
        readings = [ChannelReading(0, "CONTROL", 0.36, 0.82, 0.0), ChannelReading(1, "QC-BLANK", 0.37, 0.83, 1.2)]
        runner.on_bytes(b"".join(run_lines(1, utcnow().replace(tzinfo=None), readings)), 0.0)
    finally:
        runner.close()
    with session_scope(factory, actor=QA, reason="overdue calibrations") as s:
        held = s.execute(select(func.count(Reading.id)).where(
            Reading.instrument_id == inst_id, Reading.review_hold.like(f"{ins.HOLD_PREFIX}%"))).scalar_one()
        ins.raise_overdue(s, raised_by=QA)  # already opened by acquisition as it held the run: none new
        ncs = list(s.execute(select(NcLink.nonconformity_id).where(NcLink.kind == "instrument", NcLink.ref == SPARE))
                   .scalars())
        fit = ins.fitness(s, inst_id)
    return {"instrument": SPARE, "fitness": fit.fitness, "calibration_due": str(fit.calibration_due),
            "readings_held": int(held), "nonconformity_ids": ncs}


def _expired_material(factory: sessionmaker[Session], today: dt.date) -> dict[str, Any]:
    with session_scope(factory, actor="zhangwei", reason="reference material received") as s:
        mat.add_lot(s, mat.NewLot(code="RM-CLB-2023-01", kind="reference_material", name="盐酸克伦特罗标准物质",
                                  analyte_code="CLENBUTEROL", supplier="中国计量科学研究院", lot_no="GBW(E)100063",
                                  certificate_no="C-100063", concentration=100.0, concentration_unit="µg/mL",
                                  uncertainty=1.5, manufactured_on=today - dt.timedelta(days=900),
                                  expires_on=today - dt.timedelta(days=3), storage="−18 °C 标准品冰箱"))
        pending = s.execute(select(Analysis).where(Analysis.batch_id.is_(None)).order_by(Analysis.id)).scalars().first()
        method_code = pending.method.code if pending else "LC-BA"
        ids = [pending.id] if pending else []
    refused: dict[str, Any] = {"lot": "RM-CLB-2023-01"}
    try:
        with session_scope(factory, actor="zhangwei", reason="batch with an expired reference material") as s:
            batches.create_batch(s, code=f"B-RM-{today:%Y%m%d}", method_code=method_code, instrument_code=None,
                                 analysis_ids=ids, material_lots=["RM-CLB-2023-01"])
        refused["refused"] = False
    except Conflict as exc:
        refused.update(refused=True, code=exc.code, message=str(exc))
    return refused


def run_registers(factory: sessionmaker[Session]) -> dict[str, Any]:
    today = utcnow().date()
    return {"overdue_instrument": _overdue_instrument(factory, today),
            "expired_material": _expired_material(factory, today)}
