"""Reports issued from the database, read back with pdftotext (poppler): the conclusion by method type,
banned substances not detected, the statements block, the decision rule in words, the signatures of each
reported result version (an amended report prints the corrected version's), and the verification address
from LIMS_PUBLIC_URL.

Reference values: GB 2763-2021 sets chlorpyrifos (毒死蜱) in celery at 0.05 mg/kg (the starter table's
row); clenbuterol is prohibited for food animals (MARA Announcement No. 250)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models import Analysis, Analyte, Commodity, Limit, Role, User, UserRole
from lims.demo import LAB_CODE, PASSWORDS, qc_passed_batch, seed_reference
from lims.reports.conclusion import SCREENING_DISCLAIMER_ZH
from lims.security import hash_password
from lims.services import batches, reporting, sampling, signoff

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) needed")
TZ = dt.timezone(dt.timedelta(hours=8))


def _text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return re.sub(r"\s+", "", out.stdout.decode("utf-8"))


@pytest.fixture
def lab(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="qa", reason="test task") as s:
        sampling.create_task(s, code="T-R", name="专项监测", programme_type="special",
                             issuing_authority="某县农业农村局", required_analytes=[])
        lab_id = s.execute(select(User.lab_id)).scalars().first()
        s.add(User(lab_id=lab_id, username="chenchen", full_name="陈晨", password_hash=hash_password("pw-chen-2026"),
                   roles=[UserRole(role=str(Role.TECHNICIAN))]))
        # the pork row of the ban, so the test does not depend on how a commodity group is looked up
        pork = s.execute(select(Commodity).where(Commodity.code == "ZHUROU")).scalar_one()
        clen = s.execute(select(Analyte).where(Analyte.code == "CLENBUTEROL")).scalar_one()
        s.add(Limit(commodity_id=pork.id, analyte_id=clen.id, limit_type="banned", value_mg_kg=None,
                    source_standard="农业农村部公告第250号", source_clause="β-兴奋剂类及其盐、酯"))
    return db_factory


def _sample(factory, code: str, commodity: str, requested: list[tuple[str, str]]) -> list[int]:
    with session_scope(factory, actor="zhangwei") as s:
        sampling.register_sample(s, sampling.RegisterSample(
            code=code, commodity_code=commodity, task_code="T-R", sampled_at=dt.datetime.now(TZ) - dt.timedelta(hours=3),
            sampling_place="城关镇", region_code="511521", sampling_link="before_harvest", samplers=["赵磊", "孙敏"],
            requested=requested))
        sampling.receive_sample(s, code, actor="zhangwei", condition="完好", storage="A2")
        return list(s.execute(select(Analysis.id).join(Analysis.sample).where(Analysis.sample.has(code=code))
                              .order_by(Analysis.id)).scalars())


def _sign(factory, rid: int, *, author: str = "zhangwei", password: str | None = None) -> None:
    with session_scope(factory, actor=author) as s:
        signoff.author_results(s, [rid], username=author, password=password or PASSWORDS[author])
    with session_scope(factory, actor="liqiang") as s:
        signoff.review_results(s, [rid], username="liqiang", password=PASSWORDS["liqiang"])
    with session_scope(factory, actor="wangfang") as s:
        signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE)


def _manual(factory, analysis_id: int, value: float | None, text: str, unit: str = "mg/kg") -> int:
    with session_scope(factory, actor="zhangwei") as s:
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
        analysis = s.get(Analysis, analysis_id)
        if analysis.kind == "confirmatory" and analysis.batch_id is None:  # its result needs its batch QC
            qc_passed_batch(s, f"B-{analysis_id}", analysis.method.code, [analysis_id])
        r = batches.enter_manual_result(s, analysis_id=analysis_id, value_text=text, value=value, unit=unit,
                                        reason="仪器数据系统离线，按打印谱图录入", analyst_id=tech)
        return r.id


def _issue(factory, code: str, out: Path, reason: str | None = None):
    with session_scope(factory, actor="wangfang") as s:
        rep = reporting.issue_report(s, code, out_dir=out, amendment_reason=reason)
        return rep.report_no, Path(rep.path)


def test_confirmatory_report_concludes_against_gb2763_without_the_screening_disclaimer(lab, tmp_path):
    (aid,) = _sample(lab, "S-C1", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    _sign(lab, _manual(lab, aid, 0.02, "0.02"))
    _, pdf = _issue(lab, "S-C1", tmp_path)
    text = _text(pdf)
    assert "经抽样检验，所检项目符合GB2763-2021《食品安全国家标准食品中农药最大残留限量》要求" in text
    assert re.sub(r"\s+", "", SCREENING_DISCLAIMER_ZH) not in text and "仅作筛查" not in text
    # the decision rule in words, both languages, never the code
    assert "简单接受规则" in text and "simpleacceptance:" in text and "simple_acceptance" not in text
    # the statements block and the objection period with its rule
    for statement in ("报告无批准人签字无效", "报告涂改无效", "报告未加盖检验检测专用章无效",
                      "5个工作日内", "《中华人民共和国农产品质量安全法》"):
        assert statement in text, statement
    assert "NY/T789-2004" in text  # vegetables: the pesticide-residue sampling method


def test_non_compliant_confirmatory_report_names_the_item_and_standard(lab, tmp_path):
    (aid,) = _sample(lab, "S-C2", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    _sign(lab, _manual(lab, aid, 0.12, "0.12"))  # > 0.05 mg/kg (GB 2763-2021)
    text = _text(_issue(lab, "S-C2", tmp_path)[1])
    assert "所检项目中毒死蜱不符合GB2763-2021《食品安全国家标准食品中农药最大残留限量》要求" in text
    assert "所检项目符合" not in text


def test_banned_substance_not_detected_in_pork_reads_not_detected_and_compliant(lab, tmp_path):
    (aid,) = _sample(lab, "S-P1", "ZHUROU", [("CLENBUTEROL", "LC-BA")])
    _sign(lab, _manual(lab, aid, None, "未检出"))
    text = _text(_issue(lab, "S-P1", tmp_path)[1])
    assert "未检出" in text and "合格Compliant" in text  # the verdict cell: 合格 / Compliant
    assert "未判定" not in text
    assert "不得检出" in text  # the limit column names the ban, not "—"
    assert "所检项目符合农业农村部公告第250号《食品动物中禁止使用的药品及其他化合物清单》要求" in text
    assert "NY/T1897-2010" in text and "NY/T789" not in text  # livestock sampling, not the pesticide method


def test_screening_only_report_keeps_the_disclaimer_and_no_verdict(lab, tmp_path):
    (aid,) = _sample(lab, "S-E1", "BAICAI", [("OP-CARB", "RAPID-EI")])
    _sign(lab, _manual(lab, aid, 21.0, "抑制率 21.0%，阴性", unit="%"))
    text = _text(_issue(lab, "S-E1", tmp_path)[1])
    assert re.sub(r"\s+", "", SCREENING_DISCLAIMER_ZH) in text
    assert "所检项目符合" not in text and "不符合" not in text and "合格Compliant" not in text
    assert "4小时内" in text  # the rapid-test objection period


def test_amended_report_prints_the_corrected_versions_signatures(lab, tmp_path):
    (aid,) = _sample(lab, "S-A1", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    rid = _manual(lab, aid, 0.06, "0.06")
    _sign(lab, rid)
    first_no, first_pdf = _issue(lab, "S-A1", tmp_path)
    with session_scope(lab, actor="chenchen") as s:
        chen = s.execute(select(User.id).where(User.username == "chenchen")).scalar_one()
        new_id = signoff.amend_result(s, rid, value=0.12, value_text="0.12", reason="稀释倍数漏录，更正为 2",
                                      analyst_id=chen).id
    _sign(lab, new_id, author="chenchen", password="pw-chen-2026")
    second_no, second_pdf = _issue(lab, "S-A1", tmp_path, reason="稀释倍数更正")
    old, new = _text(first_pdf), _text(second_pdf)
    assert "陈晨" not in old and "张伟" in old and "(v1)" in old
    assert "陈晨" in new and "(v2)" in new and "(v1)" not in new
    assert "张伟" not in new  # the replaced value's tester is not on the corrected report
    assert second_no != first_no and f"替代报告{first_no}" in new.replace(":", "").replace("/", "")


def test_public_url_builds_the_qr_and_printed_address(lab, tmp_path, monkeypatch):
    (aid,) = _sample(lab, "S-U1", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    _sign(lab, _manual(lab, aid, 0.02, "0.02"))
    monkeypatch.setenv("LIMS_PUBLIC_URL", "https://jc.example.gov.cn/")
    get_settings.cache_clear()
    try:
        with lab() as s:
            sample = s.execute(select(Analysis).where(Analysis.id == aid)).scalar_one().sample
            data = reporting.build_report(s, sample, reporting.current_results(s, sample), report_id="JCS-U1")
        assert data.verify_base_url == "https://jc.example.gov.cn/verify/"
        no, pdf = _issue(lab, "S-U1", tmp_path)
        assert f"https://jc.example.gov.cn/verify/{no}?sha256=" in _text(pdf)
        assert "127.0.0.1" not in _text(pdf)
    finally:
        get_settings.cache_clear()


def test_without_public_url_no_lab_pc_address_is_printed(lab, tmp_path, monkeypatch):
    monkeypatch.delenv("LIMS_PUBLIC_URL", raising=False)
    get_settings.cache_clear()
    (aid,) = _sample(lab, "S-U2", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    _sign(lab, _manual(lab, aid, 0.02, "0.02"))
    text = _text(_issue(lab, "S-U2", tmp_path)[1])
    assert "127.0.0.1" not in text and "/verify/" not in text


def _payload(factory, rid: int) -> dict:
    import json

    from lims.db.models import OutboxItem, OutboxMessage

    with factory() as s:  # a message batches one sample's results (issue 14): the item of this result
        msg = s.execute(select(OutboxMessage).join(OutboxItem, OutboxItem.message_id == OutboxMessage.id)
                        .where(OutboxItem.result_id == rid)).scalar_one()
        items = json.loads(msg.payload)["results"]
        return next(i["result"] for i in items if i["resultId"] == rid)


@pytest.mark.parametrize(("stored", "figures", "value", "text"), [
    (12.00000000000001, None, 12.0, "12.0"),       # SANTE: ≥ 10 mg/kg → 3 significant figures
    (0.09400122681461558, None, 0.094, "0.094"),   # SANTE: < 10 mg/kg → 2
    (0.0525, None, 0.052, "0.052"),                # GB/T 8170: an exact 5 after an even digit is dropped
    (12.00000000000001, 4, 12.0, "12.00"),         # the method says 4 significant figures
])
def test_upstream_payload_carries_the_reported_value(lab, stored, figures, value, text):
    (aid,) = _sample(lab, "S-N1", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    if figures is not None:
        with session_scope(lab, actor="qa", reason="method precision") as s:
            from lims.db.models import Method

            s.execute(select(Method).where(Method.code == "GC-OP")).scalar_one().report_figures = figures
    rid = _manual(lab, aid, stored, repr(stored))
    _sign(lab, rid)
    res = _payload(lab, rid)
    assert res["value"] == value and res["valueText"] == text
    with lab() as s:
        from lims.db.models import Result

        assert s.get(Result, rid).value == stored  # full precision stays in the database


def test_analyte_precision_in_the_method_wins_over_the_methods(lab, tmp_path):
    from lims.db.models import Method, MethodScope

    (aid,) = _sample(lab, "S-N2", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    with session_scope(lab, actor="qa", reason="method precision") as s:
        method = s.execute(select(Method).where(Method.code == "GC-OP")).scalar_one()
        method.report_figures = 4
        scope = s.execute(select(MethodScope).where(MethodScope.method_id == method.id)).scalars().first()
        scope.report_figures, scope.report_decimals = None, 3  # chlorpyrifos in GC-OP: 3 decimals
        scope_id = scope.id
    rid = _manual(lab, aid, 0.12345, "0.12345")
    _sign(lab, rid)
    assert _payload(lab, rid)["valueText"] == "0.123"
    from lims.services import queries

    with lab() as s:  # the list selects the precision with its rows: the same text, no column of it shown
        listed = queries.list_results(s, sample_code="S-N2").items[0]
        assert listed["reported_text"] == "0.123" and not any(k.startswith("_") for k in listed)
    with session_scope(lab, actor="qa", reason="method precision") as s:
        s.get(MethodScope, scope_id).report_decimals = None  # now the method's 4 figures
    with lab() as s:
        assert queries.list_results(s, sample_code="S-N2").items[0]["reported_text"] == "0.1234"  # half-even
    text = _text(_issue(lab, "S-N2", tmp_path)[1])
    assert "0.123" in text and "0.12345" not in text


def test_read_models_show_the_reported_value_and_limits_with_units(lab):
    from lims.db.models import Result
    from lims.services import queries
    from lims.services.views.results import result_detail

    (aid,) = _sample(lab, "S-N3", "QINCAI", [("CHLORPYRIFOS", "GC-OP")])
    rid = _manual(lab, aid, 0.09400122681461558, "0.09400122681461558")
    with session_scope(lab, actor="zhangwei") as s:
        r = s.get(Result, rid)
        r.lod, r.loq = 0.005, 0.01
    with lab() as s:
        row = result_detail(s, rid)
        assert row["reported_text"] == "0.094" and row["value"] == 0.09400122681461558
        assert row["lod_text"] == "0.005 mg/kg" and row["loq_text"] == "0.01 mg/kg"
        listed = queries.list_results(s, sample_code="S-N3").items[0]
        assert listed["reported_text"] == "0.094" and listed["lod_text"] == "0.005 mg/kg"


def test_curve_limits_shown_with_their_unit_and_in_the_result_unit():
    from lims.services.reported import curve_limit_text

    # 0.00193 mg/L of extract, 10 mL extract of 5 g sample → 0.00386 mg/kg (mg/L·mL/g = mg/kg) → 0.0039
    assert curve_limit_text(1.93e-3, {(5.0, 10.0, 1.0)}) == "0.0019 mg/L（提取液 extract） ≈ 0.0039 mg/kg"
    assert curve_limit_text(1.93e-3, set()) == "0.0019 mg/L（提取液 extract）"
    assert curve_limit_text(None, set()) is None


def _approve_judged(factory, rid: int, judgement) -> None:
    for user, fn in (("zhangwei", signoff.author_results), ("liqiang", signoff.review_results)):
        with session_scope(factory, actor=user) as s:
            fn(s, [rid], username=user, password=PASSWORDS[user])
    with session_scope(factory, actor="wangfang") as s:
        signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE,
                                judgements={rid: judgement})


def test_no_limit_judged_by_the_approver_is_printed_and_never_compliant(lab, tmp_path):
    from lims.limits.judgement import LimitJudgement

    (aid,) = _sample(lab, "S-J1", "JIUCAI", [("CHLORPYRIFOS", "GC-OP")])  # no chlorpyrifos limit for 韭菜
    _approve_judged(lab, _manual(lab, aid, 0.03, "0.03"),
                    LimitJudgement(kind="no_limit_applies", reason="GB 2763-2021 未规定韭菜中毒死蜱限量"))
    text = _text(_issue(lab, "S-J1", tmp_path)[1])
    assert "无限量标准" in text and "毒死蜱无适用限量标准，未作符合性判定" in text
    assert "所检项目符合" not in text and "由批准人王芳判定" in text


def test_a_limit_named_by_the_approver_is_the_standard_of_the_conclusion(lab, tmp_path):
    from lims.limits.judgement import LimitJudgement

    (aid,) = _sample(lab, "S-J2", "JIUCAI", [("CHLORPYRIFOS", "GC-OP")])
    _approve_judged(lab, _manual(lab, aid, 0.03, "0.03"),
                    LimitJudgement(kind="named_standard", standard="GB 2763-2021", clause="4.121 鳞茎类蔬菜",
                                   value_mg_kg=0.1))
    text = _text(_issue(lab, "S-J2", tmp_path)[1])
    assert "0.1mg/kg" in text and "批准人判定" in text
    assert "所检项目符合GB2763-2021《食品安全国家标准食品中农药最大残留限量》要求" in text
