"""`lims demo`: one realistic lab day on a fresh SQLite database and the simulated instruments, step by
step through the same services the API uses (see :func:`run_demo` for the order)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.config import Settings
from lims.db import anchors, audit
from lims.db.engine import make_engine, make_session_factory, session_scope
from lims.db.migrate import upgrade
from lims.db.models import (
    Analysis,
    AuditEvent,
    Inspector,
    MonitoringTask,
    RawCapture,
    Report,
    Result,
    Sample,
    SamplingAssignment,
    Signature,
    User,
)
from lims.demo import gc, instruments
from lims.demo.loopback import LoopbackHub
from lims.demo.pt_round import run_demo_round
from lims.demo.quality import run_quality
from lims.demo.reference import LAB_CODE, PASSWORDS, TZ, VEG_DAY, demo_judgements, seed_reference
from lims.demo.registers import run_registers
from lims.hub.registry import register_lab_key
from lims.services import reporting, sampling, signoff
from lims.services.lookup import get_by_code
from lims.upstream import queue as upstream_queue
from lims.upstream.delivery import DeliveryStats, deliver_due
from lims.upstream.signing import load_or_create_key, public_key_pem


@dataclass
class DemoLog:
    steps: list[tuple[str, float]] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    def step(self, text: str) -> None:
        elapsed = time.perf_counter() - self.t0
        self.steps.append((text, elapsed))
        print(f"[{elapsed:6.2f}s] {text}", flush=True)



class DemoDay:
    """One lab day, step by step; every step goes through the same services the API uses."""

    def __init__(self, out_dir: Path) -> None:
        self.out = out_dir
        self.log = DemoLog()
        if out_dir.exists():
            shutil.rmtree(out_dir)
        (out_dir / "reports").mkdir(parents=True)
        # the lab key signs audit checkpoints from the first sign-off on (lims/db/anchors.py) and, later, upstream
        # one lab key for checkpoints and delivery: LIMS_UPSTREAM_KEY when set (anchors read it too), else the day's
        self.key_path = Settings().upstream_key or out_dir / "keys" / "lab_ed25519.pem"
        load_or_create_key(self.key_path)
        audit.install()
        self.engine = make_engine(f"sqlite:///{out_dir / 'lims.db'}")
        upgrade(self.engine)
        self.factory = make_session_factory(self.engine)
        self.log.step(f"database created and migrated: {out_dir / 'lims.db'} (SQLite, WAL)")
        self.veg: list[str] = []
        self.pork: list[str] = []
        self.results: list[int] = []
        self.qc_failures = 0
        self.positives: list[str] = []
        self.amended: list[str] = []
        self.pt: dict[str, Any] = {"participants": 0, "analytes": 0, "scores": 0}
        self.quality: dict[str, Any] = {}  # issue 15: audits, nonconformities, Westgard rejections
        self.external_hub = False  # LIMS_UPSTREAM_URL: deliver there (pending when it is down), not to a loopback hub

    def uow(self, actor: str, reason: str) -> AbstractContextManager[Session]:
        return session_scope(self.factory, actor=actor, reason=reason)

    def user_id(self, username: str) -> int:
        with self.factory() as s:
            return int(s.execute(select(User.id).where(User.username == username)).scalar_one())

    # -- 1. reference data, tasks, 双随机 plan, samples -------------------------------------------
    def plan_and_register(self) -> None:
        seed_reference(self.factory)
        with self.uow("wangfang", "monitoring tasks") as s:
            task = get_by_code(s, MonitoringTask, "T2026-LX-11")
            task.required_analytes = ["OP-CARB", "CHLORPYRIFOS"]
            sampling.create_task(s, code="T2026-ZX-07", name="2026 年生猪“瘦肉精”专项监测", programme_type="special",
                                 issuing_authority="某县农业农村局", required_analytes=["CLENBUTEROL"],
                                 sampling_plan="某县农业农村局“瘦肉精”专项整治抽样方案")
            veg_plan = sampling.draw_sampling_plan(s, "T2026-LX-11", producers=len(VEG_DAY), seed=20261128,
                                                   kinds=("cooperative", "family_farm"))
            pork_plan = sampling.draw_sampling_plan(s, "T2026-ZX-07", producers=2, seed=20261128,
                                                    kinds=("enterprise",), sampling_link="before_slaughter")
            assignments = {a.draw_order: a.id for a in s.execute(
                select(SamplingAssignment).join(MonitoringTask).where(MonitoringTask.code == "T2026-LX-11"))
                .scalars()}
            pork_assignments = {a.draw_order: a.id for a in s.execute(
                select(SamplingAssignment).join(MonitoringTask).where(MonitoringTask.code == "T2026-ZX-07"))
                .scalars()}
            inspectors = {i.id: i.name for i in s.execute(select(Inspector)).scalars()}
        self.log.step(f"双随机 plans drawn (seed {veg_plan.seed}): {len(veg_plan.lines)} vegetable producers, "
                      f"{len(pork_plan.lines)} pig farms, inspectors assigned at random")
        now = dt.datetime.now(TZ)
        with self.uow("zhangwei", "sampling records") as s:
            for line, (commodity, _pct) in zip(veg_plan.lines, VEG_DAY, strict=True):
                code = f"S{now:%Y%m%d}-{line.draw_order:03d}"  # the day's date, like every record
                sampling.register_sample(s, sampling.RegisterSample(
                    code=code, commodity_code=commodity, task_code="T2026-LX-11",
                    assignment_id=assignments[line.draw_order], sampled_at=now - dt.timedelta(hours=5),
                    sampling_place="某县城关镇蔬菜基地", region_code="511521", sampling_link="before_harvest",
                    samplers=[inspectors[i] for i in line.inspector_ids], certificate_no=f"HGZ-511521-{code[-3:]}",
                    trace_code=f"511521{now:%Y%m%d}{code[-3:]}", quantity="1 kg", requested=[("OP-CARB", "RAPID-EI")]))
                self.veg.append(code)
            for line in pork_plan.lines:
                code = f"S{now:%Y%m%d}-P{line.draw_order:02d}"
                sampling.register_sample(s, sampling.RegisterSample(
                    code=code, commodity_code="ZHUROU", task_code="T2026-ZX-07",
                    assignment_id=pork_assignments[line.draw_order], sampled_at=now - dt.timedelta(hours=6),
                    sampling_place="某县定点屠宰场待宰圈", region_code="511521", sampling_link="before_slaughter",
                    samplers=[inspectors[i] for i in line.inspector_ids], quantity="500 g",
                    trace_code=f"PIG511521{now:%Y%m%d}{line.draw_order:02d}", requested=[("CLENBUTEROL", "LC-BA")]))
                self.pork.append(code)
        with self.uow("zhangwei", "sample receipt") as s:
            for code in self.veg + self.pork:
                sampling.receive_sample(s, code, actor="zhangwei", condition="完好，冷藏运输 / intact, chilled",
                                        storage="样品冷藏柜 A2")
                sampling.custody(s, code, kind="subsampled", actor="zhangwei", sub_sample_code=f"{code}-A",
                                 note="检测用样")
                sampling.custody(s, code, kind="retained", actor="zhangwei", location="留样室 R1",
                                 note="留样 3 个月")
        self.log.step(f"registered and received {len(self.veg) + len(self.pork)} samples with sampling records, "
                      "合格证/追溯码 and chain of custody")


    # -- 4. review, approval, reports, amendment --------------------------------------------------
    def sign_off(self) -> None:
        with self.factory() as s:
            todo = list(s.execute(select(Result.id).where(Result.status == "to_be_reviewed")).scalars())
            unsigned = [rid for rid in todo if not s.execute(select(Signature.id).where(
                Signature.record_id == rid, Signature.meaning == "authorship")).first()]
        if unsigned:
            with self.uow("zhangwei", "authorship") as s:
                signoff.author_results(s, unsigned, username="zhangwei", password=PASSWORDS["zhangwei"])
        with self.uow("liqiang", "review") as s:
            signoff.review_results(s, todo, username="liqiang", password=PASSWORDS["liqiang"])
        with self.uow("wangfang", "approval") as s:
            signoff.approve_results(s, todo, username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE,
                                    judgements=demo_judgements(s, todo))
        self.log.step(f"{len(todo)} results signed: 检验 张伟 → 审核 李强 → 批准 王芳 (certified; upstream queued)")

    def issue_reports(self) -> None:
        with self.factory() as s:
            codes = sorted(set(s.execute(select(Sample.code).join(Analysis).join(Result)
                                         .where(Result.status == "certified")).scalars()))
        for code in codes:
            with self.uow("wangfang", "report issue") as s:
                reporting.issue_report(s, code, out_dir=self.out / "reports")
        self.log.step(f"issued {len(codes)} PDF reports (zh-CN, embedded CJK font, QR with verification hash)")

    def amend(self) -> None:
        """The technician finds the celery extract was diluted 1:1 before injection and not entered."""
        with self.factory() as s:
            r = s.execute(select(Result).join(Analysis).where(Analysis.kind == "confirmatory",
                                                              Result.curve_id.is_not(None),
                                                              Result.status == "reported")).scalars().first()
            if r is None:
                return
            rid, code, old = r.id, r.analysis.sample.code, r.value or 0.0
        tech = self.user_id("zhangwei")
        corrected = round(old * 2, 3)
        with self.uow("zhangwei", "amendment") as s:
            new = signoff.amend_result(s, rid, value=corrected, value_text=f"{corrected:.2g}",
                                       reason="进样前提取液 1:1 稀释未录入，稀释倍数更正为 2", analyst_id=tech)
            nid = new.id
        with self.uow("zhangwei", "authorship") as s:
            signoff.author_results(s, [nid], username="zhangwei", password=PASSWORDS["zhangwei"])
        with self.uow("liqiang", "review of amendment") as s:
            signoff.review_results(s, [nid], username="liqiang", password=PASSWORDS["liqiang"])
        with self.uow("wangfang", "approval of amendment") as s:
            signoff.approve_results(s, [nid], username="wangfang", password=PASSWORDS["wangfang"],
                                    lab_code=LAB_CODE)
        with self.uow("wangfang", "amended report") as s:
            rep = reporting.issue_report(s, code, out_dir=self.out / "reports",
                                         amendment_reason=f"稀释倍数更正，结果由 {old:.2g} 更正为 {corrected:.2g} mg/kg")
            self.amended.append(rep.report_no)
        self.log.step(f"amendment: result {rid} → v2 ({old:.2g} → {corrected:.2g} mg/kg), report {rep.report_no} "
                      "supersedes the first; both kept")

    # -- 5. proficiency testing: the provincial centre's round, run on this system ----------------
    def pt_round(self) -> None:
        out = run_demo_round(self.factory, out_dir=self.out / "pt", participants=12, analytes=5)
        self.pt = {"participants": out["participants"], "analytes": out["analytes"], "scores": out["scores"],
                   "unsatisfactory": out["unsatisfactory"], "false_negatives": out["false_negatives"],
                   "reports": [str(p) for p in out["pdfs"]]}
        self.log.step(f"PT round {out['round']}: {out['participants']} labs × {out['analytes']} analytes, "
                      f"{out['scores']} scores (ISO 13528 Algorithm A, z/z′/ζ/En), {out['unsatisfactory']} "
                      f"unsatisfactory, {out['false_negatives']} false negative; {len(out['pdfs'])} PDF reports")

    # -- 6. upstream, verification, summary --------------------------------------------------------
    def upstream(self) -> None:
        """Deliver the day's messages: to the hub of LIMS_UPSTREAM_URL with the key at LIMS_UPSTREAM_KEY when
        set (an unreachable hub leaves them pending: no failure of the demo), else to a loopback hub."""
        settings = Settings()
        if settings.upstream_url:
            key = load_or_create_key(self.key_path)
            self.external_hub = True
            url, stats = settings.upstream_url, self._deliver(key, settings.upstream_url, passes=1)
        else:
            key = load_or_create_key(self.key_path)
            with LoopbackHub(f"sqlite:///{self.out / 'hub.db'}") as hub:
                with session_scope(hub.factory, actor="hub:admin", reason="register county lab key") as s:
                    register_lab_key(s, LAB_CODE, public_key_pem(key))
                url, stats = hub.url, self._deliver(key, hub.url, passes=5)
        with self.factory() as s:
            state = upstream_queue.status(s)
        self.log.step(f"upstream: {stats.delivered} signed (Ed25519) messages delivered to the hub at {url}; "
                      f"{state.pending} pending, {state.dead_letter} dead letters")

    def _deliver(self, key: Any, url: str, *, passes: int) -> DeliveryStats:
        """Passes of the delivery worker until nothing more is delivered (an amendment becomes due once its
        original is delivered), at most ``passes`` rounds of retries."""
        total = DeliveryStats()
        with httpx.Client(timeout=5.0) as client:
            for _ in range(passes * 4):
                stats = deliver_due(self.factory, client, key, hub_url=url, lab_code=LAB_CODE)
                total.delivered += stats.delivered
                total.retried += stats.retried
                total.dead += stats.dead
                if not stats.delivered and (not stats.retried or total.retried >= passes):
                    break
        return total

    def summary(self) -> dict[str, Any]:
        from lims.db.verify import verify_database

        with self.factory() as s:
            def count(q: Any) -> int:
                return int(s.execute(q).scalar_one())
            state = upstream_queue.status(s)  # messages of every kind: results, amendments, checkpoints
            delivered, pending = state.delivered, state.pending
            current = Result.status.not_in(("superseded", "rejected"))
            summary: dict[str, Any] = {
                "samples": count(select(func.count()).select_from(Sample)),
                "results": count(select(func.count()).select_from(Result).where(current)),
                "results_from_instruments": count(select(func.count()).select_from(Result).where(
                    current, Result.source.in_(("instrument", "calculated")))),
                "certified": count(select(func.count()).select_from(Result).where(
                    Result.status.in_(("certified", "reported")))),
                "non_compliant": count(select(func.count()).select_from(Result).where(
                    current, Result.verdict.in_(("non_compliant", "banned_substance_detected")))),
                "reports": [r for r in s.execute(select(Report.path).order_by(Report.id)).scalars()],
                "upstream_delivered": delivered, "upstream_pending": pending,
                "upstream_dead_letter": state.dead_letter, "upstream_external_hub": self.external_hub,
                "pt_round": self.pt, "qc_failures": self.qc_failures, "quality": self.quality,
                "raw_capture_errors": count(select(func.count()).where(RawCapture.parse_status == "error")),
                "screening_positives": self.positives, "amended_reports": self.amended,
                "audit_events": count(select(func.count()).select_from(AuditEvent)),
            }
            check = verify_database(s)
        self.log.step(("audit trail verified: " if check.ok else "AUDIT TRAIL BROKEN: ") + check.message)
        summary["audit_ok"] = check.ok
        summary["database"] = str(self.out / "lims.db")
        summary["elapsed_s"] = round(time.perf_counter() - self.log.t0, 3)
        (self.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        self.engine.dispose()
        summary["ok"] = (check.ok and state.dead_letter == 0 and (pending == 0 or self.external_hub)
                         and bool(summary["reports"])
                         and summary["results_from_instruments"] > 0)
        return summary




def run_demo(out_dir: Path) -> dict[str, Any]:
    day = DemoDay(out_dir)
    day.plan_and_register()
    instruments.screen_enzyme(day, day.veg[:4])
    instruments.acquire_service_day(day, day.veg[4:])
    gc.confirm_gc(day)
    day.sign_off()
    day.issue_reports()
    day.amend()
    day.pt_round()
    day.quality = run_quality(day.factory)  # audit finding closed through CAPA; a Westgard rejection holds a batch
    day.log.step(f"quality: {day.quality['audits']} audits, audit finding closed through CAPA; Westgard "
                 f"{day.quality['westgard_rules']} rejected a run: batch {day.quality['held_batch']} held, "
                 f"NC-{day.quality['westgard_nc']} opened")
    day.quality["registers"] = reg = run_registers(day.factory)  # overdue instrument held, expired lot refused
    day.log.step(f"registers: {reg['overdue_instrument']['instrument']} calibration overdue → "
                 f"{reg['overdue_instrument']['readings_held']} readings held, NC {reg['overdue_instrument']['nonconformity_ids']}; "
                 f"lot {reg['expired_material']['lot']} refused by a batch ({reg['expired_material'].get('code')})")
    with day.uow("system", "end-of-day audit checkpoint") as s:
        anchors.checkpoint(s, lab_code=LAB_CODE)  # delivered upstream with the day's results
    day.upstream()
    with day.uow("system", "end-of-day audit checkpoint (anchor log)") as s:
        anchors.checkpoint(s, lab_code=LAB_CODE, queue=False)  # the head after delivery: the whole day anchored
    return day.summary()
