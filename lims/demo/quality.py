"""The demo day's quality system (issue 15): an internal audit with a finding closed through CAPA, and a QC
chart whose Westgard rejection holds a run's batch and opens a nonconformity.

The control values are a fixed, alternating pattern (no random numbers): 20 in-control runs give the lab's
own target mean and SD; the 21st run's level 1 lies 3.4 SD above the mean (1-3s, Westgard et al.,
Clin Chem 1981;27:493)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import Batch
from lims.db.models_pt import Nonconformity
from lims.db.models_quality import QcRun, QualityAudit
from lims.quality import audits, qcruns
from lims.quality import nonconformity as ncs
from lims.services import batches

QA = "wangfang"  # the demo's quality manager (lims.demo.reference.DEMO_USERS)
CHART = {"material": "菠菜基质质控品 QC-SP", "analyte": "毒死蜱", "instrument": "GC-01"}
#: z-scores of levels 1 and 2 in the in-control runs: opposite signs, |z| < 1.
PATTERN = ((0.3, -0.5), (-0.6, 0.4), (0.8, -0.2), (-0.1, 0.7), (0.5, -0.9), (-0.7, 0.2), (0.2, -0.3),
           (-0.4, 0.6), (0.9, -0.1), (-0.2, 0.5))
LEVELS = (("L1", 0.050, 0.005), ("L2", 0.500, 0.040))  # mg/kg: the control material's stated values


def run_quality(factory: sessionmaker[Session], *, year: int | None = None) -> dict[str, Any]:
    """Audit → finding → CAPA → closed; QC chart → Westgard rejection → batch held, NC opened."""
    today = utcnow().date()
    year = year or today.year
    with session_scope(factory, actor=QA, reason="internal audit programme") as s:
        audits.create_programme(s, year=year, audits=4, lead_auditor=QA)
        code = f"IA-{year}-01"
        audits.start_audit(s, code)
        finding = audits.add_finding(s, code, clause_id="17025:7.5", grade="minor", raised_by=QA, owner="liqiang",
                                     description="气相色谱原始记录未记录进样口温度的核查")
        nc_id = finding.nonconformity_id
        assert nc_id is not None
    with session_scope(factory, actor=QA, reason="CAPA of the audit finding") as s:
        ncs.record_root_cause(s, nc_id, "原始记录表格无进样口温度栏")
        action = ncs.add_action(s, nc_id, description="修订 GC 原始记录表格，增加进样口温度栏", owner="liqiang",
                                due_date=today + dt.timedelta(days=14))
        ncs.complete_action(s, action.id, note="记录表格 F-GC-03 第 2 版已启用")
        ncs.implement(s, nc_id)
        ncs.verify_effectiveness(s, nc_id, verification="抽查当日 GC 原始记录，均记录了进样口温度")
        ncs.close(s, nc_id, note="纠正措施有效")
        audits.complete_audit(s, code)
    run = _westgard(factory, today)
    with factory() as s:
        def count(q: Any) -> int:
            return int(s.execute(q).scalar_one())
        return {
            "audits": count(select(func.count()).select_from(QualityAudit)),
            "audit_nc_closed": s.get(Nonconformity, nc_id).status == "closed",  # type: ignore[union-attr]
            "nonconformities": count(select(func.count()).select_from(Nonconformity)),
            "nonconformities_open": count(select(func.count()).select_from(Nonconformity)
                                          .where(Nonconformity.status != "closed")),
            "qc_runs": count(select(func.count()).select_from(QcRun)),
            "westgard_rejections": count(select(func.count()).select_from(QcRun).where(QcRun.accepted.is_(False))),
            "held_batch": run["batch"], "westgard_nc": run["nc"], "westgard_rules": run["rules"],
        }


def _westgard(factory: sessionmaker[Session], today: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(today, dt.time(8), tzinfo=dt.UTC) - dt.timedelta(days=30)
    with session_scope(factory, actor="zhangwei", reason="QC chart") as s:
        for level, mean, sd in LEVELS:
            qcruns.set_target(s, **CHART, level=level, mean=mean, sd=sd)
        for i in range(20):
            z1, z2 = PATTERN[i % len(PATTERN)]
            qcruns.record_run(s, code=f"QC-GC01-{i + 1:03d}", **CHART, method="GC-OP",
                              values=[("L1", LEVELS[0][1] + z1 * LEVELS[0][2]),
                                      ("L2", LEVELS[1][1] + z2 * LEVELS[1][2])],
                              run_at=start + dt.timedelta(days=i), raised_by="zhangwei")
    with session_scope(factory, actor=QA, reason="QC targets from the lab's own data") as s:
        targets = {lv: qcruns.target_from_data(s, **CHART, level=lv) for lv, _, _ in LEVELS}
        t1, t2 = targets["L1"], targets["L2"]
        l1, l2 = t1.mean + 3.4 * t1.sd, t2.mean + 0.3 * t2.sd
    with session_scope(factory, actor="zhangwei", reason="QC run of the day") as s:
        code = f"B-QC-{today:%Y%m%d}"
        batches.create_batch(s, code=code, method_code="GC-OP", instrument_code=None, analysis_ids=[])
        run = qcruns.record_run(s, code="QC-GC01-021", **CHART, method="GC-OP", batch_code=code,
                                values=[("L1", l1), ("L2", l2)], raised_by="zhangwei")
        assert not run.accepted and run.nonconformity_id is not None
        batch = s.execute(select(Batch).where(Batch.code == code)).scalar_one()
        assert batch.status == "qc_failed"  # the run's results are held
        return {"batch": code, "nc": run.nonconformity_id, "rules": list(run.rejections)}
