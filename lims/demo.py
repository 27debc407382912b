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
from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
from hardware_sim.chromatogram import ChromatogramSpec, write_all
from hardware_sim.chromatogram import Peak as ChromPeak
from hardware_sim.enzyme import EnzymeTesterSim, SimSample
from hardware_sim.faults import Faults
from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from calibration.chromatogram import RetentionWindow
from drivers.codecs.modbus_map import encode_string
from drivers.profiles import load_profile
from drivers.transports.modbus import ModbusLink
from drivers.transports.serial import open_serial_for_profile
from lims.acquisition import AcquisitionService, parse_config
from lims.db import audit
from lims.db.engine import make_engine, make_session_factory, session_scope
from lims.db.migrate import upgrade
from lims.db.models import (
    Analysis,
    Analyte,
    AuditEvent,
    Commodity,
    Inspector,
    Instrument,
    Lab,
    Method,
    MethodScope,
    MethodSignatory,
    MonitoringTask,
    OutboxMessage,
    Producer,
    RawCapture,
    Reading,
    Report,
    Result,
    Role,
    Sample,
    SampleStatus,
    SamplingAssignment,
    Signature,
    User,
    UserRole,
)
from lims.loopback import LoopbackHub
from lims.security import hash_password
from lims.services import attach, batches, chromatography, reporting, sampling, signoff
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
    ("某县李家湾种植专业合作社", "cooperative"), ("某县南坪家庭农场", "family_farm"),
    ("某县金穗果蔬专业合作社", "cooperative"), ("某县东山家庭农场", "family_farm"),
    ("某县红岩蔬菜专业合作社", "cooperative"), ("某县清河生猪养殖有限公司", "enterprise"),
    ("某县丰泰肉联屠宰有限公司", "enterprise"), ("某县高坪牧业有限公司", "enterprise"),
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
        s.add(Instrument(lab_id=lab.id, code="PH-01", name="农药残留光度分析仪（Modbus）",
                         profile="modbus_photometric", transport_url=""))
        s.add(Instrument(lab_id=lab.id, code="LC-01", name="液相色谱-串联质谱仪数据系统（ASTM）",
                         profile="astm_gc_datasystem", transport_url=""))
        s.add(MonitoringTask(code="T2026-LX-11", name="2026 年第四季度蔬菜农药残留例行监测", programme_type="routine",
                             issuing_authority="某县农业农村局", required_analytes=["OP-CARB"],
                             sampling_plan="某县农业农村局 2026 年例行监测抽样计划（第四季度）"))
        s.flush()
        for m in (enzyme, gc, lc):
            s.add(MethodSignatory(method_id=m.id, user_id=users["wangfang"].id))
        import_starter_table(s)
        s.flush()
        scope = {gc.id: ("CHLORPYRIFOS",), lc.id: ("CLENBUTEROL", "RACTOPAMINE", "SALBUTAMOL")}
        for method_id, codes in scope.items():  # 检测能力范围: which analytes each method determines
            for analyte_id in s.execute(select(Analyte.id).where(Analyte.code.in_(codes))).scalars():
                s.add(MethodScope(method_id=method_id, analyte_id=analyte_id))


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


def run_enzyme_tester(factory: sessionmaker[Session], samples: list[SimSample], *, run_no: int, seed: int,
                      faults: Faults | None = None) -> tuple[EnzymeTesterSim, LineAcquisition, str]:
    """One run of the simulated enzyme-inhibition tester on a pty pair, read by the driver exactly as it
    would read /dev/ttyUSB0; raw lines are committed before they are parsed."""
    profile = load_profile("enzyme_ascii_16ch")
    sim = EnzymeTesterSim(samples, run_no=run_no, seed=seed, faults=faults)
    path = sim.start_pty()
    acquisition = LineAcquisition(factory, "EI-01", profile)
    port = open_serial_for_profile(path, profile, timeout=0.2)
    try:
        read_serial_until(port, acquisition, end_record="END", runs=1, idle_timeout_s=5.0)
    finally:
        port.close()
        sim.stop()
    return sim, acquisition, path



# ---------------------------------------------------------------------------------------------------
# The day

#: Vegetable samples of the routine task, in draw order: commodity, true enzyme inhibition %, and for the
#: confirmatory GC the chlorpyrifos in the sample (mg/kg) when the screen is positive.
VEG_DAY = (("JIUCAI", 12.0), ("QINCAI", 67.0), ("BAICAI", 8.5), ("HUANGGUA", 21.0), ("JIANGDOU", 33.0),
           ("FANQIE", 5.0))
CHLORPYRIFOS_IN_CELERY_MG_KG = 0.12
GC_LEVELS_MG_L = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
GC_AREA_PER_MG_L = 52000.0  # detector response of the simulated GC-FPD, mAU·s per mg/L
GC_RT_MIN = 8.20
SAMPLE_MASS_G, EXTRACT_ML = 5.0, 10.0


class DemoDay:
    """One lab day, step by step; every step goes through the same services the API uses."""

    def __init__(self, out_dir: Path) -> None:
        self.out = out_dir
        self.log = DemoLog()
        if out_dir.exists():
            shutil.rmtree(out_dir)
        (out_dir / "reports").mkdir(parents=True)
        audit.install()
        self.engine = make_engine(f"sqlite:///{out_dir / 'lims.db'}")
        upgrade(self.engine)
        self.factory = make_session_factory(self.engine)
        self.log.step(f"database created and migrated: {out_dir / 'lims.db'} (SQLite, WAL)")
        self.veg: list[str] = []
        self.pork: list[str] = []
        self.results: list[int] = []
        self.qc_failures = 0
        self.capture_errors: list[str] = []
        self.positives: list[str] = []
        self.amended: list[str] = []
        self.pt: dict[str, Any] = {"participants": 0, "analytes": 0, "scores": 0}

    def uow(self, actor: str, reason: str):  # type: ignore[no-untyped-def]
        return session_scope(self.factory, actor=actor, reason=reason)

    def user_id(self, username: str) -> int:
        with self.factory() as s:
            return int(s.execute(select(User.id).where(User.username == username)).scalar_one())

    # -- 1. reference data, tasks, 双随机 plan, samples -------------------------------------------
    def plan_and_register(self) -> None:
        seed_reference(self.factory)
        with self.uow("wangfang", "monitoring tasks") as s:
            task = s.execute(select(MonitoringTask).where(MonitoringTask.code == "T2026-LX-11")).scalar_one()
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
                code = f"S20261128-{line.draw_order:03d}"
                sampling.register_sample(
                    s, code=code, commodity_code=commodity, task_code="T2026-LX-11",
                    assignment_id=assignments[line.draw_order], sampled_at=now - dt.timedelta(hours=5),
                    sampling_place="某县城关镇蔬菜基地", region_code="511521", sampling_link="before_harvest",
                    samplers=[inspectors[i] for i in line.inspector_ids], certificate_no=f"HGZ-511521-{code[-3:]}",
                    trace_code=f"51152120261128{code[-3:]}", quantity="1 kg", requested=[("OP-CARB", "RAPID-EI")])
                self.veg.append(code)
            for line in pork_plan.lines:
                code = f"S20261128-P{line.draw_order:02d}"
                sampling.register_sample(
                    s, code=code, commodity_code="ZHUROU", task_code="T2026-ZX-07",
                    assignment_id=pork_assignments[line.draw_order], sampled_at=now - dt.timedelta(hours=6),
                    sampling_place="某县定点屠宰场待宰圈", region_code="511521", sampling_link="before_slaughter",
                    samplers=[inspectors[i] for i in line.inspector_ids], quantity="500 g",
                    trace_code=f"PIG51152120261128{line.draw_order:02d}", requested=[("CLENBUTEROL", "LC-BA")])
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

    # -- 2. rapid screening on the enzyme-inhibition tester (pty serial) ---------------------------
    def screen_enzyme(self, codes: list[str]) -> None:
        truth = dict(zip(self.veg, (p for _c, p in VEG_DAY), strict=True))
        samples = [SimSample(i + 1, code, truth[code]) for i, code in enumerate(codes)]
        # the CH line of the second sample is corrupted on the wire; its raw capture is kept with the error
        _sim, acquisition, path = run_enzyme_tester(self.factory, samples, run_no=1, seed=20261128,
                                                    faults=Faults(malformed_lines=(3,)))
        st = acquisition.stats
        self.capture_errors += st.error_messages
        self.log.step(f"enzyme tester on pty {path}: {st.captures} raw lines stored, {st.readings} parsed, "
                      f"{st.errors} kept with their error ({'; '.join(st.error_messages)})")
        # the operator re-runs the sample whose line was lost: a second run, clean
        tech = self.user_id("zhangwei")
        with self.uow("zhangwei", "screening results from the enzyme tester") as s:
            outcome = results_from_readings(s, st.reading_ids, analyst_id=tech)
        ids = list(outcome.results)
        screened = set(self._screened())
        lost = [c for c in codes if c not in screened]
        if lost:
            _sim, acq2, _path = run_enzyme_tester(
                self.factory, [SimSample(i + 1, c, truth[c]) for i, c in enumerate(lost)], run_no=2, seed=7)
            with self.uow("zhangwei", "screening re-run of a sample whose line was corrupted") as s:
                outcome2 = results_from_readings(s, acq2.stats.reading_ids, analyst_id=tech)
            ids += outcome2.results
            outcome.positives.extend(outcome2.positives)
            self.log.step(f"re-ran {', '.join(lost)} on the tester (run 2): {len(outcome2.results)} result")
        self.results += ids
        self.positives += outcome.positives
        self.log.step(f"calibration/: inhibition % and screening calls for {len(ids)} samples; positive "
                      f"{outcome.positives or 'none'} → confirmatory GC analyses requested automatically")

    def _screened(self) -> list[str]:
        with self.factory() as s:
            return list(s.execute(select(Sample.code).join(Analysis).join(Result)
                                  .where(Analysis.kind == "screening")).scalars())

    # -- 2b. the Modbus photometric analyzer and the LC-MS/MS data system (ASTM over TCP) -----------
    def acquire_service_day(self, photometer_codes: list[str]) -> None:
        """`lims acquire`'s service runs both instruments concurrently: the LIMS downloads each sample ID
        to the photometer over Modbus TCP and starts it; the LC-MS/MS data system sends the pork results
        by ASTM E1381/E1394 over TCP. Raw bytes are committed before anything is parsed or ACKed."""
        truth = dict(zip(self.veg, (p for _c, p in VEG_DAY), strict=True))
        photometer = ModbusAnalyzerSim([PlannedResult(truth[c], 0.0) for c in photometer_codes], measure_time_s=0.2,
                                       seed=3)
        mb_port = photometer.start_tcp()
        now = dt.datetime.now(TZ).replace(tzinfo=None)
        lcms = AstmSenderSim([AstmMessage(code, (AstmResult("CLENBUTEROL", "ND", units="µg/kg"),),
                                          method="GB/T22286", operator="zhangwei", instrument_id="LC-01",
                                          completed_at=now) for code in self.pork],
                             reply_timeout_s=2.0, busy_retry_s=0.5)
        astm_port = lcms.start_tcp()
        config = parse_config(
            f"""[acquire]
lab = "{LAB_CODE}"
status_interval_s = 0.2
[[instrument]]
code = "PH-01"
profile = "modbus_photometric"
transport = "modbus-tcp://127.0.0.1:{mb_port}?device_id=1"
poll_interval_s = 0.1
[[instrument]]
code = "LC-01"
profile = "astm_gc_datasystem"
transport = "socket://127.0.0.1:{astm_port}"
""", file="demo-acquire.toml")
        service = AcquisitionService(config, self.factory)
        service.start()
        worklist = ModbusLink.tcp("127.0.0.1", mb_port, device_id=1, timeout_s=1.0)
        try:
            worklist.connect()
            for code in photometer_codes:
                worklist.write_registers(2, encode_string(code, 8))
                worklist.write_registers(0, [1])  # COMMAND = start measurement
                self._wait_reading(lambda c=code: select(Reading.id).where(Reading.sample_code == c), 10.0)
            self._wait_reading(lambda: select(func.count()).select_from(Reading).where(
                Reading.record_type == "R", Reading.sample_code.in_(self.pork)), 15.0, count=len(self.pork))
        finally:
            worklist.close()
            service.stop()
            photometer.stop()
            lcms.stop()
        tech = self.user_id("zhangwei")
        with self.factory() as s:
            ph = list(s.execute(select(Reading.id).join(Instrument).where(Instrument.code == "PH-01")).scalars())
            lc = list(s.execute(select(Reading.id).join(Instrument).where(Instrument.code == "LC-01")).scalars())
        with self.uow("zhangwei", "photometer screening results") as s:
            screened = attach.results_from_photometer(s, ph, analyst_id=tech)
        with self.uow("zhangwei", "LC-MS/MS results") as s:
            confirmed = attach.results_from_astm(s, lc, analyst_id=tech)
        with self.uow("zhangwei", "authorship") as s:
            signoff.author_results(s, screened.results + confirmed.results, username="zhangwei",
                                   password=PASSWORDS["zhangwei"])
        self.results += screened.results + confirmed.results
        self.positives += screened.positives
        self.log.step(f"Modbus TCP photometer (port {mb_port}): {len(screened.results)} screening results "
                      f"(float32 CDAB); LC-MS/MS over ASTM/TCP (port {astm_port}): {len(confirmed.results)} "
                      f"clenbuterol results, {lcms.acks_received} frames ACKed after commit")

    def _wait_reading(self, query, timeout_s: float, count: int = 1) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self.factory() as s:
                rows = s.execute(query()).scalars().all()
                n = rows[0] if rows and isinstance(rows[0], int) and count > 1 else len(rows)
                if n >= count:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"instrument data did not arrive within {timeout_s:.0f} s")

    # -- 3. confirmatory GC batch: export files → integration → standard curve → mg/kg ------------
    def _chromatogram(self, stem: str, conc_mg_l: float, seed: int) -> Path:
        peaks = [ChromPeak("internal check", 5.10, 30000.0, sigma_s=2.2)]
        if conc_mg_l > 0:
            peaks.append(ChromPeak("CHLORPYRIFOS", GC_RT_MIN, conc_mg_l * GC_AREA_PER_MG_L, sigma_s=2.0, tau_s=0.6))
        spec = ChromatogramSpec(peaks=tuple(peaks), run_time_min=12.0, sampling_interval_s=0.1, seed=seed,
                                noise_sd=0.02, baseline_drift_per_min=0.08, sample_name=stem)
        return write_all(spec, self.out / "gc", stem=stem).netcdf

    def _peak_area(self, s: Session, path: Path, sample_code: str) -> tuple[float, int | None]:
        run = chromatography.import_run(s, path, instrument_code="GC-01", sample_code=sample_code,
                                        windows=[RetentionWindow("CHLORPYRIFOS", GC_RT_MIN, 0.1)])
        rid = run.peaks.get("CHLORPYRIFOS")
        if rid is None:
            return 0.0, None
        reading = s.get(Reading, rid)
        assert reading is not None
        return float(reading.fields["area"]), rid

    def confirm_gc(self) -> None:
        with self.uow("zhangwei", "GC instrument") as s:
            lab = s.execute(select(Lab)).scalar_one()
            s.add(Instrument(lab_id=lab.id, code="GC-01", name="气相色谱仪 GC-FPD（AIA/ANDI 导出）",
                             profile="file:andi-netcdf"))
        with self.factory() as s:
            pending = s.execute(select(Analysis.id).where(Analysis.kind == "confirmatory", Analysis.status ==
                                                          "pending", Analysis.method.has(code="GC-OP"))).scalars().all()
        if not pending:
            self.log.step("no screening positives: no confirmatory GC batch today")
            return
        for attempt, ccv_found in ((1, 0.127), (2, 0.101)):
            code = f"B-GC-20261128-{attempt}"
            with self.uow("zhangwei", f"GC batch {code}") as s:
                batch = batches.create_batch(s, code=code, method_code="GC-OP", instrument_code="GC-01",
                                             analysis_ids=list(pending))
                areas = []
                for i, level in enumerate(GC_LEVELS_MG_L):
                    area, _ = self._peak_area(s, self._chromatogram(f"{code}-STD{i + 1}", level, 100 * attempt + i),
                                              f"{code}-STD{i + 1}")
                    areas.append(area)
                curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS",
                                            concentrations=list(GC_LEVELS_MG_L), responses=areas)
                fit_k = curve.params["slope"]
                blank, _ = self._peak_area(s, self._chromatogram(f"{code}-BLK", 0.0, 900 + attempt), f"{code}-BLK")
                batches.add_qc(s, code, kind="reagent_blank", analyte_code="CHLORPYRIFOS",
                               measured_value=blank / fit_k * EXTRACT_ML / SAMPLE_MASS_G, reporting_limit=0.01)
                spike, _ = self._peak_area(s, self._chromatogram(f"{code}-SPK", 0.047, 910 + attempt), f"{code}-SPK")
                batches.add_qc(s, code, kind="spike", analyte_code="CHLORPYRIFOS", nominal_value=0.10,
                               measured_value=(spike - curve.params["intercept"]) / fit_k * EXTRACT_ML / SAMPLE_MASS_G)
                batches.add_qc(s, code, kind="ccv", analyte_code="CHLORPYRIFOS", nominal_value=0.10,
                               measured_value=ccv_found)
                qc = batches.evaluate_batch_qc(s, code)
                tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
                new_results = []
                for aid in pending:
                    analysis = s.get(Analysis, aid)
                    assert analysis is not None
                    truth = CHLORPYRIFOS_IN_CELERY_MG_KG if analysis.sample.commodity.code == "QINCAI" else 0.0
                    area, reading_id = self._peak_area(
                        s, self._chromatogram(f"{code}-{analysis.sample.code}", truth * SAMPLE_MASS_G / EXTRACT_ML,
                                              1000 * attempt + aid), analysis.sample.code)
                    r = batches.quantify(s, analysis_id=aid, curve_id=curve.id, response=area,
                                         sample_mass_g=SAMPLE_MASS_G, extract_volume_ml=EXTRACT_ML,
                                         analyst_id=tech, reading_id=reading_id)
                    new_results.append(r.id)
                curve_ok = curve.passed
            with self.uow("zhangwei", "authorship") as s:
                signoff.author_results(s, new_results, username="zhangwei", password=PASSWORDS["zhangwei"])
            self.log.step(f"GC batch {code}: 6-level curve from integrated AIA/ANDI exports "
                          f"(r² {curve.r2:.5f}, {'accepted' if curve_ok else 'REJECTED'}); QC "
                          f"{'passed' if qc.passed else 'FAILED: ' + '; '.join(qc.failures)}")
            if qc.passed:
                self.results += new_results
                break
            self.qc_failures += 1
            with self.uow("liqiang", "QC failure") as s:
                signoff.reject_results(s, new_results, username="liqiang", password=PASSWORDS["liqiang"],
                                       reason="批次连续校准核查(CCV)偏差超过 20%，结果暂停，重新进样", retest=True)
            self.log.step(f"batch {code} held by its failed CCV; results rejected for re-test, batch re-run")

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
            signoff.approve_results(s, todo, username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE)
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
        from lims.pt.demo import run_demo_round

        out = run_demo_round(self.factory, out_dir=self.out / "pt", participants=12, analytes=5)
        self.pt = {"participants": out["participants"], "analytes": out["analytes"], "scores": out["scores"],
                   "unsatisfactory": out["unsatisfactory"], "false_negatives": out["false_negatives"],
                   "reports": [str(p) for p in out["pdfs"]]}
        self.log.step(f"PT round {out['round']}: {out['participants']} labs × {out['analytes']} analytes, "
                      f"{out['scores']} scores (ISO 13528 Algorithm A, z/z′/ζ/En), {out['unsatisfactory']} "
                      f"unsatisfactory, {out['false_negatives']} false negative; {len(out['pdfs'])} PDF reports")

    # -- 6. upstream, verification, summary --------------------------------------------------------
    def upstream(self) -> None:
        key = load_or_create_key(self.out / "keys" / "lab_ed25519.pem")
        with LoopbackHub(f"sqlite:///{self.out / 'hub.db'}") as hub:
            with session_scope(hub.factory, actor="hub:admin", reason="register county lab key") as s:
                register_lab_key(s, LAB_CODE, public_key_pem(key))
            with httpx.Client(timeout=5.0) as client:
                for _ in range(5):
                    stats = deliver_due(self.factory, client, key, hub_url=hub.url, lab_code=LAB_CODE)
                    if not stats.retried:
                        break
            url = hub.url
        with self.factory() as s:
            delivered = s.execute(select(func.count()).where(OutboxMessage.status == "delivered")).scalar_one()
        self.log.step(f"upstream: {delivered} signed (Ed25519) messages delivered to the hub at {url}")

    def summary(self) -> dict[str, Any]:
        from lims.db.verify import verify_database

        with self.factory() as s:
            def count(q: Any) -> int:
                return int(s.execute(q).scalar_one())
            delivered = count(select(func.count()).where(OutboxMessage.status == "delivered"))
            pending = count(select(func.count()).where(OutboxMessage.status != "delivered"))
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
                "pt_round": self.pt, "qc_failures": self.qc_failures,
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
        summary["ok"] = (check.ok and pending == 0 and bool(summary["reports"])
                         and summary["results_from_instruments"] > 0)
        return summary


def run_demo(out_dir: Path) -> dict[str, Any]:
    day = DemoDay(out_dir)
    day.plan_and_register()
    day.screen_enzyme(day.veg[:4])
    day.acquire_service_day(day.veg[4:])
    day.confirm_gc()
    day.sign_off()
    day.issue_reports()
    day.amend()
    day.upstream()
    day.pt_round()
    return day.summary()
