"""`lims demo`: one realistic lab day on the embedded SQLite database and simulated instruments.

The walking skeleton through every layer: samples are registered; a simulated enzyme-inhibition
tester on a pty pair streams its run over the real serial transport (one line is injected
malformed); raw bytes are committed before parsing; calibration/ computes inhibition % and the
screening call; two different users review and approve with e-signatures; PDF reports are issued;
certified results go through the outbox, signed with Ed25519, to a hub started on loopback.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hardware_sim.enzyme import EnzymeTesterSim, SimSample
from hardware_sim.faults import Faults
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from drivers.profiles import load_profile
from drivers.transports.serial import open_serial_for_profile
from lims.db import audit
from lims.db.engine import make_engine, make_session_factory, session_scope
from lims.db.migrate import upgrade
from lims.db.models import (
    Analysis,
    Analyte,
    Commodity,
    Inspector,
    Instrument,
    Lab,
    Method,
    MethodSignatory,
    MonitoringTask,
    OutboxMessage,
    Producer,
    RawCapture,
    Result,
    Role,
    Sample,
    SampleStatus,
    User,
    UserRole,
)
from lims.loopback import LoopbackHub
from lims.security import hash_password
from lims.services import reporting, signoff
from lims.services.acquisition import LineAcquisition, read_serial_until
from lims.services.hub import register_lab_key
from lims.services.limits import import_starter_table
from lims.services.sampling import uscc_complete
from lims.services.screening import results_from_readings
from lims.services.upstream import deliver_due, load_or_create_key, public_key_pem

LAB_CODE = "LAB-511521-01"
TZ = dt.timezone(dt.timedelta(hours=8))

#: Demo accounts only: `lims demo` is the one place with known passwords.
DEMO_USERS = (
    ("zhangwei", "张伟", "demo-tech-2026", (Role.TECHNICIAN,)),
    ("liqiang", "李强", "demo-review-2026", (Role.REVIEWER,)),
    ("wangfang", "王芳", "demo-approve-2026", (Role.APPROVER, Role.QA_MANAGER)),
    ("admin", "系统管理员", "demo-admin-2026", (Role.ADMIN,)),
)
PASSWORDS = {u[0]: u[2] for u in DEMO_USERS}

#: The day's vegetable samples for enzyme-inhibition screening: (code, commodity, producer, true inhibition %)
DEMO_SAMPLES = (
    ("S20261128-001", "JIUCAI", 0, 12.0),
    ("S20261128-002", "QINCAI", 1, 8.5),
    ("S20261128-003", "BAICAI", 2, 67.0),
    ("S20261128-004", "HUANGGUA", 0, 21.0),
    ("S20261128-005", "JIANGDOU", 3, 5.0),
    ("S20261128-006", "FANQIE", 1, 33.0),
)


COMMODITIES = (
    ("JIUCAI", "韭菜", "Chinese chives", "蔬菜/鳞茎类蔬菜"),
    ("QINCAI", "芹菜", "celery", "蔬菜/叶菜类蔬菜"),
    ("BAICAI", "普通白菜", "pak choi", "蔬菜/叶菜类蔬菜"),
    ("HUANGGUA", "黄瓜", "cucumber", "蔬菜/瓜类蔬菜"),
    ("JIANGDOU", "豇豆", "cowpea", "蔬菜/豆类蔬菜"),
    ("FANQIE", "番茄", "tomato", "蔬菜/茄果类蔬菜"),
    ("ZHUROU", "猪肉", "pork (muscle)", "动物性食品/肉类"),
)
PRODUCERS = (
    ("某县绿源蔬菜专业合作社", "cooperative"), ("某县青禾家庭农场", "family_farm"),
    ("某县丰收农业开发有限公司", "enterprise"), ("某县李家湾种植专业合作社", "cooperative"),
    ("某县清河生猪养殖场", "enterprise"), ("某县南坪家庭农场", "family_farm"),
    ("某县金穗果蔬专业合作社", "cooperative"), ("某县田园鲜农业有限公司", "enterprise"),
)
CREDIT_PREFIX = {"cooperative": "93", "family_farm": "92", "enterprise": "91", "farmer": "92"}
INSPECTORS = (("赵磊", "某县农业综合行政执法大队"), ("孙敏", "某县农业综合行政执法大队"),
              ("周杰", "某县农产品质量安全监管站"), ("吴婷", "某县农产品质量安全监管站"),
              ("郑凯", "某县农业综合行政执法大队"), ("冯雪", "某县农产品质量安全监管站"))


@dataclass
class DemoLog:
    steps: list[tuple[str, float]] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    def step(self, text: str) -> None:
        elapsed = time.perf_counter() - self.t0
        self.steps.append((text, elapsed))
        print(f"[{elapsed:6.2f}s] {text}", flush=True)


def seed_reference(factory: sessionmaker[Session]) -> None:
    """The demo lab: staff with roles, methods, commodities, producers (supervision directory),
    inspectors, the instruments, a monitoring task and the cited starter MRL table."""
    with session_scope(factory, actor="demo:setup", reason="demo reference data") as s:
        lab = Lab(code=LAB_CODE, name="某县农产品质量安全检验检测站", address="四川省某县农业园区检测中心 3 楼",
                  region_code="511521", cma_number="2026230000XX")
        s.add(lab)
        s.flush()
        users = {}
        for username, name, password, roles in DEMO_USERS:
            u = User(lab_id=lab.id, username=username, full_name=name, password_hash=hash_password(password),
                     roles=[UserRole(role=str(r)) for r in roles])
            s.add(u)
            users[username] = u
        enzyme = Method(code="RAPID-EI", name="蔬菜中有机磷和氨基甲酸酯类农药残留量的快速检测（酶抑制法）",
                        standard="GB/T 5009.199-2003", kind="screening", unit="%")
        gc = Method(code="GC-OP", name="蔬菜和水果中有机磷类农药多残留的测定 气相色谱法",
                    standard="NY/T 761-2008", kind="confirmatory", unit="mg/kg", lod=0.005, loq=0.01,
                    decision_rule="simple_acceptance")
        lc = Method(code="LC-BA", name="动物源性食品中β-受体激动剂残留量的测定 液相色谱-串联质谱法",
                    standard="GB/T 22286-2008", kind="confirmatory", unit="µg/kg", lod=0.00025, loq=0.0005,
                    decision_rule="simple_acceptance")
        s.add_all([enzyme, gc, lc])
        s.add(Analyte(code="OP-CARB", name_zh="有机磷和氨基甲酸酯类农药", name_en="organophosphates and carbamates",
                      kind="group"))
        for code, zh, en, cat in COMMODITIES:
            s.add(Commodity(code=code, name_zh=zh, name_en=en, category=cat))
        for i, (name, kind) in enumerate(PRODUCERS):
            s.add(Producer(name=name, kind=kind, region_code="511521",
                           credit_code=uscc_complete(f"{CREDIT_PREFIX[kind]}511521MA6C{i:05d}")))
        for name, org in INSPECTORS:
            s.add(Inspector(name=name, organisation=org))
        s.add(Instrument(lab_id=lab.id, code="EI-01", name="农药残留快速检测仪 16 通道",
                         profile="enzyme_ascii_16ch", transport_url=""))
        s.add(MonitoringTask(code="T2026-LX-11", name="2026 年第四季度蔬菜农药残留例行监测", programme_type="routine",
                             issuing_authority="某县农业农村局", required_analytes=["OP-CARB"],
                             sampling_plan="某县农业农村局 2026 年例行监测抽样计划（第四季度）"))
        s.flush()
        for m in (enzyme, gc, lc):
            s.add(MethodSignatory(method_id=m.id, user_id=users["wangfang"].id))
        import_starter_table(s)


def register_samples(factory: sessionmaker[Session]) -> list[str]:
    now = dt.datetime.now(TZ)
    with session_scope(factory, actor="zhangwei", reason="sample registration") as s:
        lab = s.execute(select(Lab)).scalar_one()
        method = s.execute(select(Method).where(Method.code == "RAPID-EI")).scalar_one()
        analyte = s.execute(select(Analyte).where(Analyte.code == "OP-CARB")).scalar_one()
        producers = s.execute(select(Producer).order_by(Producer.id)).scalars().all()
        codes = []
        for code, commodity, producer_idx, _ in DEMO_SAMPLES:
            c = s.execute(select(Commodity).where(Commodity.code == commodity)).scalar_one()
            sample = Sample(code=code, lab_id=lab.id, commodity_id=c.id, producer_id=producers[producer_idx].id,
                            task_code="T2026-LX-11", sampled_at=now - dt.timedelta(hours=5),
                            sampling_place="某县城关镇蔬菜基地", region_code="511521", sampling_link="采收前",
                            certificate_no=f"HGZ-511521-{code[-3:]}", trace_code=f"511521{code[-3:]}2026",
                            samplers="赵磊、孙敏", description=f"{c.name_zh}，新鲜，约 1 kg", quantity="1 kg",
                            received_at=now - dt.timedelta(hours=2), condition="完好，冷藏运输 / intact, chilled",
                            status=SampleStatus.IN_ANALYSIS)
            s.add(sample)
            s.flush()
            s.add(Analysis(sample_id=sample.id, method_id=method.id, analyte_id=analyte.id, kind="screening",
                           status="in_analysis"))
            codes.append(code)
    return codes


def acquire_enzyme_run(factory: sessionmaker[Session], log: DemoLog) -> LineAcquisition:
    profile = load_profile("enzyme_ascii_16ch")
    samples = [SimSample(i + 1, code, pct) for i, (code, _c, _p, pct) in enumerate(DEMO_SAMPLES)]
    # Line index 3 (the CH line of channel 02) is sent malformed; the run must still complete for the others.
    sim = EnzymeTesterSim(samples, run_no=1, seed=20261128, faults=Faults(malformed_lines=(3,)))
    path = sim.start_pty()
    log.step(f"simulated enzyme-inhibition tester on pty {path} (9600 8N1)")
    acquisition = LineAcquisition(factory, "EI-01", profile)
    port = open_serial_for_profile(path, profile, timeout=0.2)
    try:
        read_serial_until(port, acquisition, end_record="END", runs=1, idle_timeout_s=5.0)
    finally:
        port.close()
        sim.stop()
    return acquisition


def run_demo(out_dir: Path) -> dict[str, Any]:
    log = DemoLog()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "reports").mkdir(parents=True)
    audit.install()
    engine = make_engine(f"sqlite:///{out_dir / 'lims.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    log.step(f"database created and migrated: {out_dir / 'lims.db'} (SQLite, WAL)")

    seed_reference(factory)
    codes = register_samples(factory)
    log.step(f"registered {len(codes)} samples of task T2026-LX-11")

    acquisition = acquire_enzyme_run(factory, log)
    st = acquisition.stats
    log.step(f"acquired {st.captures} raw lines: {st.readings} parsed, {st.errors} kept with their error")
    for msg in st.error_messages:
        log.step(f"  raw capture kept with error: {msg}")

    with session_scope(factory, actor="zhangwei", reason="screening results from instrument") as s:
        tech = s.execute(select(User).where(User.username == "zhangwei")).scalar_one()
        outcome = results_from_readings(s, st.reading_ids, analyst_id=tech.id)
    log.step(f"calibration: {len(outcome.results)} screening results; positives {outcome.positives or 'none'} "
             "→ confirmatory analyses requested")

    with session_scope(factory, actor="zhangwei", reason="authorship") as s:
        signoff.author_results(s, outcome.results, username="zhangwei", password=PASSWORDS["zhangwei"])
    with session_scope(factory, actor="liqiang", reason="review") as s:
        signoff.review_results(s, outcome.results, username="liqiang", password=PASSWORDS["liqiang"])
    with session_scope(factory, actor="wangfang", reason="approval") as s:
        signoff.approve_results(s, outcome.results, username="wangfang", password=PASSWORDS["wangfang"],
                                lab_code=LAB_CODE)
    log.step("results signed: 检验 张伟 → 审核 李强 → 批准 王芳 (certified; upstream messages queued)")

    reports: list[str] = []
    with session_scope(factory, actor="wangfang", reason="report issue") as s:
        reported_codes = sorted({r.analysis.sample.code for r in s.execute(
            select(Result).where(Result.id.in_(outcome.results))).scalars()})
    for code in reported_codes:
        with session_scope(factory, actor="wangfang", reason="report issue") as s:
            report = reporting.issue_report(s, code, out_dir=out_dir / "reports")
            reports.append(report.path)
    log.step(f"issued {len(reports)} PDF reports (zh-CN, embedded CJK font, QR verification hash)")

    key = load_or_create_key(out_dir / "keys" / "lab_ed25519.pem")
    with LoopbackHub(f"sqlite:///{out_dir / 'hub.db'}") as hub:
        with session_scope(hub.factory, actor="hub:admin", reason="register county lab key") as s:
            register_lab_key(s, LAB_CODE, public_key_pem(key))
        with httpx.Client(timeout=5.0) as client:
            for _ in range(5):
                stats = deliver_due(factory, client, key, hub_url=hub.url, lab_code=LAB_CODE)
                if not stats.retried:
                    break
    with factory() as s:
        delivered = s.execute(select(func.count()).where(OutboxMessage.status == "delivered")).scalar_one()
        pending = s.execute(select(func.count()).where(OutboxMessage.status != "delivered")).scalar_one()
        n_samples = s.execute(select(func.count()).select_from(Sample)).scalar_one()
        n_results = s.execute(select(func.count()).select_from(Result)).scalar_one()
        from_instr = s.execute(select(func.count()).where(Result.source == "instrument")).scalar_one()
        certified = s.execute(select(func.count()).where(
            Result.status.in_(("certified", "reported")))).scalar_one()
        non_compliant = s.execute(select(func.count()).where(
            Result.verdict.in_(("non_compliant", "banned_substance_detected")))).scalar_one()
        capture_errors = s.execute(select(func.count()).where(RawCapture.parse_status == "error")).scalar_one()
    log.step(f"upstream: {delivered} delivered to hub {hub.url}, {pending} pending")

    from lims.db.verify import verify_database

    with Session(engine) as s:
        check = verify_database(s)
    log.step(("audit trail verified: " if check.ok else "AUDIT TRAIL BROKEN: ") + check.message)
    engine.dispose()

    summary: dict[str, Any] = {
        "samples": n_samples, "results": n_results, "results_from_instruments": from_instr,
        "certified": certified, "non_compliant": non_compliant, "reports": reports,
        "upstream_delivered": delivered, "upstream_pending": pending,
        "pt_round": {"participants": 0, "analytes": 0, "scores": 0},
        "qc_failures": 0, "raw_capture_errors": capture_errors,
        "screening_positives": outcome.positives, "audit_ok": check.ok,
        "database": str(out_dir / "lims.db"),
        "elapsed_s": round(time.perf_counter() - log.t0, 3),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    ok = check.ok and pending == 0 and len(reports) > 0 and from_instr > 0
    summary["ok"] = ok
    return summary
