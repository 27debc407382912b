"""The demo lab's reference data and accounts: staff with roles and the demo passwords, methods,
commodities, producers (supervision directory), inspectors, instruments, a monitoring task, the cited
starter MRL table; and the day's samples."""

from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lims.db.engine import session_scope
from lims.db.models import (
    Analysis,
    Analyte,
    Commodity,
    Inspector,
    Instrument,
    Lab,
    Method,
    MethodScope,
    MethodSignatory,
    MonitoringTask,
    Producer,
    Role,
    Sample,
    SampleStatus,
    User,
    UserRole,
)
from lims.demo.method_data import seed_method_data
from lims.limits.judgement import LimitJudgement
from lims.security import hash_password
from lims.services.limits import import_starter_table
from lims.services.lookup import get_by_code
from lims.services.sampling import uscc_complete

LAB_CODE = os.environ.get("LIMS_LAB_CODE") or "LAB-511521-01"  # LIMS_LAB_CODE names the demo's lab
TZ = dt.timezone(dt.timedelta(hours=8))

#: Demo accounts only: `lims demo` is the one place with known passwords.
DEMO_USERS = (
    ("zhangwei", "张伟", "demo-tech-2026", (Role.TECHNICIAN,)),
    ("liqiang", "李强", "demo-review-2026", (Role.REVIEWER,)),
    ("wangfang", "王芳", "demo-approve-2026", (Role.APPROVER, Role.QA_MANAGER)),
    ("admin", "系统管理员", "demo-admin-2026", (Role.ADMIN,)),
)
PASSWORDS = {u[0]: u[2] for u in DEMO_USERS}

#: The date in the codes of :data:`DEMO_SAMPLES` (registered by :func:`register_samples`), 14:00 Beijing time.
SAMPLES_DAY = dt.datetime(2026, 11, 28, 14, 0, tzinfo=TZ)
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



#: Vegetable samples of the routine task, in draw order: commodity and true enzyme inhibition %.
VEG_DAY = (("JIUCAI", 12.0), ("QINCAI", 67.0), ("BAICAI", 8.5), ("HUANGGUA", 21.0), ("JIANGDOU", 33.0),
           ("FANQIE", 5.0))


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
                    standard="NY/T 761-2008", kind="confirmatory", unit="mg/kg", lod_mg_kg=0.005, loq_mg_kg=0.01,
                    decision_rule="simple_acceptance")
        lc = Method(code="LC-BA", name="动物源性食品中β-受体激动剂残留量的测定 液相色谱-串联质谱法",
                    standard="GB/T 22286-2008", kind="confirmatory", unit="µg/kg", lod_mg_kg=0.00025, loq_mg_kg=0.0005,
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
        s.flush()
        seed_method_data(s)  # strategies, QC limits, identification rules, validation data (issue 12)


def register_samples(factory: sessionmaker[Session]) -> list[str]:
    now = SAMPLES_DAY  # the day the sample codes carry (S20261128-…), so codes and dates agree
    with session_scope(factory, actor="zhangwei", reason="sample registration") as s:
        lab = s.execute(select(Lab)).scalar_one()
        method = get_by_code(s, Method, "RAPID-EI")
        analyte = get_by_code(s, Analyte, "OP-CARB")
        producers = s.execute(select(Producer).order_by(Producer.id)).scalars().all()
        codes = []
        for code, commodity, producer_idx, _ in DEMO_SAMPLES:
            c = get_by_code(s, Commodity, commodity)
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


def demo_judgements(s: Session, result_ids: list[int]) -> dict[int, LimitJudgement]:
    """The demo approver's explicit judgement of each result the limit table has no limit for (无限量标准;
    e.g. chlorpyrifos in 韭菜: the starter table has no such row): no conformity statement, with the reason."""
    from lims.db.models import Result
    from lims.services.limit_judgements import needs_judgement
    from lims.vocabulary import LimitJudgementKind

    out = {}
    for rid in result_ids:
        r = s.get(Result, rid)
        if r is not None and needs_judgement(r):
            a = r.analysis
            out[rid] = LimitJudgement(LimitJudgementKind.NO_LIMIT_APPLIES, reason=(
                f"实验室限量表中无{a.sample.commodity.name_zh}中{a.analyte.name_zh}的限量（含所属类别）；"
                "未核对标准原文前不作符合性判定，仅报告检测值"))
    return out
