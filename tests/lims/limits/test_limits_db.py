"""Limits through the classification, on SQLite and PostgreSQL: the row a result is judged against and
why, the flag 无限量标准 and the approver's explicit judgement, banned substances, `lims limits find`
(subprocess, CONTRACTS.md) and GET /api/v1/limits/find."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analysis, Analyte, AuditEvent, Method, MethodScope, Result, Sample, Signature, User
from lims.db.verify import verify_database
from lims.demo import LAB_CODE, PASSWORDS, qc_passed_batch, seed_reference
from lims.limits import parse_limits_csv
from lims.limits.judgement import LimitJudgement
from lims.services import batches, limit_judgements, limits, sampling, signoff
from lims.services.errors import Conflict, InvalidInput
from lims.services.views import results as result_views
from lims.vocabulary import LimitJudgementKind

TZ = dt.timezone(dt.timedelta(hours=8))
CONTRACT_LIMIT_KEYS = {"value_mg_kg", "limit_type", "commodity", "matched_via", "group_path", "source_standard",
                       "source_clause", "verified"}

#: Made-up rows (analyte 测试农药甲, not a real limit) for the rule: own commodity > subgroup > group.
RULE_ROWS = """commodity_zh,commodity_category,analyte_zh,analyte_en,residue_definition,limit_type,limit_value,unit,source_standard,source_clause
蔬菜,蔬菜,测试农药甲,test pesticide A,测试农药甲,MRL,0.5,mg/kg,TEST-GROUP,表1
豆类蔬菜,蔬菜/豆类蔬菜,测试农药甲,test pesticide A,测试农药甲,MRL,0.2,mg/kg,TEST-SUBGROUP,表2
豇豆,蔬菜/豆类蔬菜,测试农药甲,test pesticide A,测试农药甲,MRL,0.1,mg/kg,TEST-OWN,表3
"""


@pytest.fixture
def lab(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="qa", reason="test data") as s:
        out = limits.import_limits(s, parse_limits_csv(RULE_ROWS, source="rule.csv"))
        assert out.inserted == 3 and out.new_commodities == ()
        sampling.create_task(s, code="T-L", name="限量判定", programme_type="special",
                             issuing_authority="某县农业农村局", required_analytes=[])
        gc = s.execute(select(Method).where(Method.code == "GC-OP")).scalar_one()
        lc = s.execute(select(Method).where(Method.code == "LC-BA")).scalar_one()
        for method, code in ((gc, "ISOFENPHOS-METHYL"), (lc, "CLENBUTEROL")):
            analyte = s.execute(select(Analyte).where(Analyte.code == code)).scalar_one()
            if s.execute(select(MethodScope).where(MethodScope.method_id == method.id,
                                                   MethodScope.analyte_id == analyte.id)).first() is None:
                s.add(MethodScope(method_id=method.id, analyte_id=analyte.id))
    return db_factory


def _manual(factory, code, commodity, analyte, method, value, text):
    """A sample with one analysis and a manually entered result in mg/kg (authored by 张伟); its result id."""
    with session_scope(factory, actor="qa") as s:
        sampling.register_sample(s, sampling.RegisterSample(
            code=code, commodity_code=commodity, task_code="T-L", sampled_at=dt.datetime.now(TZ) - dt.timedelta(hours=2),
            sampling_place="城关镇", region_code="511521", sampling_link="before_harvest", samplers=["赵磊", "孙敏"],
            requested=[(analyte, method)]))
    with session_scope(factory, actor="zhangwei") as s:
        sampling.receive_sample(s, code, actor="zhangwei", condition="完好", storage="A2")
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
        analysis_id = s.execute(select(Analysis.id).join(Sample).where(Sample.code == code)).scalar_one()
        qc_passed_batch(s, f"B-{code}", method, [analysis_id])  # a confirmatory result needs its batch QC
        rid = batches.enter_manual_result(s, analysis_id=analysis_id, value_text=text, value=value, unit="mg/kg",
                                          reason="仪器数据系统离线，按打印谱图录入", analyst_id=tech).id
    with session_scope(factory, actor="zhangwei") as s:
        signoff.author_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    return rid


def _review(factory, rid):
    with session_scope(factory, actor="liqiang") as s:
        signoff.review_results(s, [rid], username="liqiang", password=PASSWORDS["liqiang"])


def _approve(factory, rid, **kw):
    with session_scope(factory, actor="wangfang", reason="approval") as s:
        signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE,
                                **kw)


def test_cowpea_isofenphos_methyl_is_judged_against_the_legume_vegetables_row(lab):
    with lab() as s:
        found = limits.find(s, "豇豆", "甲基异柳磷").as_json()
    assert found["limit"]["commodity"] == "豆类蔬菜" and found["limit"]["matched_via"] == "group"
    assert found["limit"]["group_path"] == ["蔬菜", "豆类蔬菜"] and found["banned"] is False
    # GB 2763-2021 豆类蔬菜 甲基异柳磷 0.01 mg/kg (starter table, Qidong SAMR notice 2024 No. 2); not verified
    assert found["limit"]["value_mg_kg"] == pytest.approx(0.01) and found["limit"]["verified"] is False
    rid = _manual(lab, "S-L-1", "JIANGDOU", "ISOFENPHOS-METHYL", "GC-OP", 0.02, "0.020")
    with lab() as s:
        row = result_views.result_detail(s, rid)
    assert row["verdict"] == "non_compliant"
    check = row["limit_check"]
    assert (check["commodity"], check["matched_via"], check["group_path"]) == ("豆类蔬菜", "group", ["蔬菜", "豆类蔬菜"])
    assert check["value_mg_kg"] == pytest.approx(0.01) and check["source_standard"] == "GB 2763-2021"
    assert check["verified"] is False and "未经核对" in check["warning_zh"] and check["needs_judgement"] is False


def test_own_commodity_row_wins_over_subgroup_and_subgroup_over_group(lab):
    with lab() as s:
        own = limits.find(s, "cowpea", "test pesticide A").as_json()["limit"]
        sub = limits.find(s, "菜豆", "测试农药甲").as_json()["limit"]
        group = limits.find(s, "FANQIE", "测试农药甲").as_json()["limit"]
    assert (own["source_standard"], own["matched_via"], own["commodity"]) == ("TEST-OWN", "commodity", "豇豆")
    assert (sub["source_standard"], sub["matched_via"], sub["commodity"]) == ("TEST-SUBGROUP", "group", "豆类蔬菜")
    assert (group["source_standard"], group["matched_via"], group["group_path"]) == (
        "TEST-GROUP", "group", ["蔬菜", "茄果类蔬菜"])


def test_a_row_not_yet_in_force_is_not_used(lab):
    with lab() as s:  # GB 2763-2021 came into force on 2021-09-03 (starter table valid_from)
        assert limits.find(s, "豇豆", "甲基异柳磷", dt.date(2021, 9, 2)).limit is None
        assert limits.find(s, "豇豆", "甲基异柳磷", dt.date(2021, 9, 3)).limit is not None


def test_unknown_names_are_refused_naming_the_field(lab):
    with lab() as s:
        for commodity, analyte, field in (("韭黄", "毒死蜱", "commodity"), ("韭菜", "no-such", "analyte")):
            with pytest.raises(InvalidInput) as err:
                limits.find(s, commodity, analyte)
            assert err.value.field == field and err.value.code == "limits.unknown_name"


def test_no_limit_result_is_flagged_and_blocked_at_approval_until_judged(lab):
    # the starter table has no chlorpyrifos row for 韭菜 or its groups (the example)
    rid = _manual(lab, "S-L-2", "JIUCAI", "CHLORPYRIFOS", "GC-OP", 0.03, "0.030")
    with lab() as s:
        row = result_views.result_detail(s, rid)
    assert row["verdict"] == "not_evaluated"
    assert row["limit_check"]["flag_label"] == "无限量标准" and row["limit_check"]["needs_judgement"] is True
    _review(lab, rid)
    with lab() as s:  # the review queue (one read model for the page and REST) carries the flag
        queued = {r["id"]: r for r in result_views.review_queues(s, 20)["to_approve"].items}
    assert queued[rid]["limit_check"]["flag"] == "no_limit" and queued[rid]["limit_check"]["needs_judgement"]
    with pytest.raises(Conflict) as err:
        _approve(lab, rid)
    assert err.value.code == "signoff.limit_judgement_required"
    with lab() as s:
        assert s.execute(select(Signature).where(Signature.record_id == rid,
                                                 Signature.meaning == "approval")).first() is None
    with pytest.raises(InvalidInput) as bad:  # a value without its source is no judgement
        limit_judgements.judgement_from({"kind": "value_with_source", "value_mg_kg": 0.02})
    assert bad.value.field == "source"
    judgement = LimitJudgement(LimitJudgementKind.VALUE_WITH_SOURCE, value_mg_kg=0.02,
                               source="委托方合同约定限量（合同 HT-2026-031 第 5 条）")
    _approve(lab, rid, judgements={rid: judgement})
    with lab() as s:
        r = s.get(Result, rid)
        assert r.status == "certified" and r.verdict == "non_compliant"  # 0.03 > 0.02 (simple acceptance)
        shown = result_views.result_detail(s, rid)["limit_check"]
        assert shown["judgement"]["by"] == "王芳" and shown["judgement"]["kind"] == "value_with_source"
        assert shown["needs_judgement"] is False and "已由批准人王芳判定" in shown["warning_zh"]
        events = s.execute(select(AuditEvent).where(AuditEvent.table_name == "result",
                                                    AuditEvent.record_id == str(rid))).scalars().all()
        assert any("value_with_source" in (e.new or "") and e.actor == "wangfang" for e in events)
        assert verify_database(s).ok  # the approval signature binds the judgement


def test_judgement_recorded_ahead_then_approval_passes(lab):
    rid = _manual(lab, "S-L-3", "JIUCAI", "CHLORPYRIFOS", "GC-OP", 0.03, "0.030")
    _review(lab, rid)
    with session_scope(lab, actor="wangfang") as s:
        limit_judgements.judge_result(s, rid, LimitJudgement(LimitJudgementKind.NO_LIMIT_APPLIES,
                                                             reason="限量表无该组合，仅报告检测值"),
                                      username="wangfang", password=PASSWORDS["wangfang"])
    _approve(lab, rid)
    with lab() as s:
        r = s.get(Result, rid)
        assert r.status == "certified" and r.verdict == "not_evaluated"
        assert "不作符合性判定" in r.details["decision"]["statement_zh"]
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
    with session_scope(lab, actor="zhangwei") as s:  # a correction is a new version: judged anew
        new = signoff.amend_result(s, rid, value=0.04, value_text="0.040", reason="稀释倍数录入错误，更正",
                                   analyst_id=tech)
        assert limit_judgements.needs_judgement(new) and new.details["limit_check"]["judgement"] is None


def test_a_result_with_a_limit_takes_no_judgement(lab):
    rid = _manual(lab, "S-L-4", "JIANGDOU", "ISOFENPHOS-METHYL", "GC-OP", 0.005, "0.005")
    _review(lab, rid)
    with pytest.raises(InvalidInput) as err:
        _approve(lab, rid, judgements={rid: LimitJudgement(LimitJudgementKind.NO_LIMIT_APPLIES, reason="理由五个字")})
    assert err.value.code == "limits.judgement_not_applicable"
    _approve(lab, rid)


@pytest.mark.parametrize(("value", "verdict", "detection"), [
    (None, "compliant", "未检出"),           # not detected
    (0.0001, "compliant", "未检出"),         # below the method's LOD/CCα (LC-BA: 0.00025 mg/kg)
    (0.00025, "banned_substance_detected", "检出"),  # at the LOD/CCα
    (0.003, "banned_substance_detected", "检出"),
])
def test_banned_substance_reads_not_detected_compliant_or_detected_non_compliant(lab, value, verdict, detection):
    rid = _manual(lab, "S-L-P", "ZHUROU", "CLENBUTEROL", "LC-BA", value, "未检出" if value is None else str(value))
    with lab() as s:
        row = result_views.result_detail(s, rid)
    assert row["verdict"] == verdict
    check = row["limit_check"]
    assert check["banned"] is True and check["flag"] == "banned" and check["detection_label"] == detection
    assert check["source_standard"] == "农业农村部公告第250号" and check["commodity"] == "动物性食品"
    assert check["needs_judgement"] is False


def test_cli_limits_find_follows_the_contract(lab, db_url):
    env = {**os.environ, "LIMS_DATABASE_URL": db_url}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "lims.cli", "limits", "find", *args], capture_output=True,
                              text=True, env=env, timeout=120)

    out = run("--commodity", "豇豆", "--analyte", "isofenphos-methyl", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"limit", "banned"} <= set(doc) and CONTRACT_LIMIT_KEYS <= set(doc["limit"])
    assert doc["limit"]["group_path"] == ["蔬菜", "豆类蔬菜"] and doc["limit"]["matched_via"] == "group"
    ban = json.loads(run("--commodity", "PIG-LIVER", "--analyte", "克仑特罗", "--json").stdout)
    assert ban["banned"] is True and ban["limit"]["limit_type"] == "banned" and ban["limit"]["value_mg_kg"] is None
    none = json.loads(run("--commodity", "韭菜", "--analyte", "毒死蜱", "--date", "2026-01-01", "--json").stdout)
    assert none["limit"] is None and none["banned"] is False
    for args, word in ((("--commodity", "韭黄", "--analyte", "毒死蜱"), "韭黄"),
                       (("--commodity", "韭菜", "--analyte", "nope"), "nope"),
                       (("--commodity", "韭菜", "--analyte", "毒死蜱", "--date", "2026-02-30"), "--date")):
        bad = run(*args, "--json")
        assert bad.returncode == 2 and bad.stdout == ""
        assert len(bad.stderr.strip().splitlines()) == 1 and word in bad.stderr and "Traceback" not in bad.stderr


def test_api_find_gives_the_same_answer(lab, db_engine):
    from fastapi.testclient import TestClient

    from api.app import create_app

    client = TestClient(create_app(db_engine))
    token = client.post("/api/v1/auth/login", json={"username": "liqiang", "password": PASSWORDS["liqiang"]}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    r = client.get("/api/v1/limits/find", params={"commodity": "豇豆", "analyte": "甲基异柳磷"}, headers=headers)
    assert r.status_code == 200, r.text
    with lab() as s:
        assert r.json() == json.loads(json.dumps(limits.find(s, "豇豆", "甲基异柳磷").as_json(), ensure_ascii=False))
    r = client.get("/api/v1/limits/find", params={"commodity": "韭黄", "analyte": "毒死蜱"}, headers=headers)
    assert r.status_code == 422 and "commodity" in r.text


def test_the_row_in_force_on_the_sampling_date_is_used(lab):
    with lab() as s:
        before = limits.find(s, "韭菜", "腐霉利", dt.date(2022, 6, 1)).as_json()["limit"]
        after = limits.find(s, "韭菜", "腐霉利", dt.date(2024, 6, 1)).as_json()["limit"]
        # MOA No. 193 (2002) banned diethylstilbestrol until No. 250 replaced it (2019-12-27)
        old_ban = limits.find(s, "猪肉", "己烯雌酚", dt.date(2015, 1, 1))
        today = limits.find(s, "猪肉", "己烯雌酚", dt.date(2026, 1, 1))
    assert (before["value_mg_kg"], before["source_standard"]) == (pytest.approx(0.2), "GB 2763-2021")
    assert (after["value_mg_kg"], after["source_standard"]) == (pytest.approx(5.0), "GB 2763.1-2022")
    assert old_ban.banned and old_ban.limit.source_standard == "农业部公告第193号"
    # after 2019-12-26 the No. 193 row no longer applies (whether No. 250 lists it again is the table's business)
    assert today.limit is None or today.limit.source_standard != "农业部公告第193号"


def test_api_approval_of_a_no_limit_result_needs_the_judgement_route_first(lab, db_engine):
    from fastapi.testclient import TestClient

    from api.app import create_app

    rid = _manual(lab, "S-L-5", "JIUCAI", "CHLORPYRIFOS", "GC-OP", 0.03, "0.030")
    _review(lab, rid)
    client = TestClient(create_app(db_engine))
    token = client.post("/api/v1/auth/login", json={"username": "wangfang", "password": PASSWORDS["wangfang"]}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    refused = client.post("/api/v1/results/approve", headers=headers,
                          json={"result_ids": [rid], "password": PASSWORDS["wangfang"]})
    assert refused.status_code == 409 and "signoff.limit_judgement_required" in refused.text
    incomplete = client.post(f"/api/v1/results/{rid}/limit-judgement", headers=headers,
                             json={"kind": "named_standard", "standard": "GB 2763.1-2022",
                                   "password": PASSWORDS["wangfang"]})
    assert incomplete.status_code == 422 and "clause" in incomplete.text
    judged = client.post(f"/api/v1/results/{rid}/limit-judgement", headers=headers, json={
        "kind": "named_standard", "standard": "GB 2763.1-2022", "clause": "毒死蜱条 韭菜（示例）", "value_mg_kg": 0.05,
        "password": PASSWORDS["wangfang"]})
    assert judged.status_code == 200, judged.text
    assert judged.json()["verdict"] == "compliant" and judged.json()["limit_check"]["judgement"]["by"] == "王芳"
    ok = client.post("/api/v1/results/approve", headers=headers,
                     json={"result_ids": [rid], "password": PASSWORDS["wangfang"]})
    assert ok.status_code == 200, ok.text


def test_demo_approver_judges_results_without_a_limit(lab):
    from lims.demo.reference import demo_judgements

    rid = _manual(lab, "S-L-6", "JIUCAI", "CHLORPYRIFOS", "GC-OP", 0.03, "0.030")
    other = _manual(lab, "S-L-7", "JIANGDOU", "ISOFENPHOS-METHYL", "GC-OP", 0.005, "0.005")
    with lab() as s:
        given = demo_judgements(s, [rid, other])
    assert set(given) == {rid} and given[rid].kind is LimitJudgementKind.NO_LIMIT_APPLIES


def test_cli_limits_import_is_all_or_nothing_naming_every_bad_row(db_url, db_factory, tmp_path):
    env = {**os.environ, "LIMS_DATABASE_URL": db_url}
    bad = tmp_path / "bad.csv"
    bad.write_text("commodity_zh,analyte_zh,residue_definition,limit_type,limit_value,unit,source_standard,"
                   "source_clause\n韭菜,测试农药乙,测试农药乙,MRL,0.1,mg/kg,X,1\n韭菜,测试农药丙,测试农药丙,MRL,abc,mg/kg,X,1\n"
                   "韭菜,测试农药丁,测试农药丁,MRL,0.1,pints,X,1\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "lims.cli", "limits", "import", str(bad)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "line 3, field 'limit_value'" in out.stderr and "line 4, field 'unit'" in out.stderr
    with db_factory() as s:
        assert s.execute(select(Analyte).where(Analyte.name_zh == "测试农药乙")).first() is None  # nothing written
    ok = subprocess.run([sys.executable, "-m", "lims.cli", "limits", "import", "--starter", "--json"],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["inserted"] >= 90 and doc["new_commodities"] == []


def test_seeding_the_classification_is_idempotent_and_applies_a_corrected_name(db_factory):
    from lims.db.models import Commodity

    with session_scope(db_factory, actor="t") as s:
        assert limits.ensure_classification(s) > 100
    with session_scope(db_factory, actor="t") as s:
        assert limits.ensure_classification(s) == 0
        s.execute(select(Commodity).where(Commodity.code == "FRUIT-BERRY")).scalar_one().name_zh = "旧名"
    with session_scope(db_factory, actor="t") as s:
        assert limits.ensure_classification(s) == 0
        berry = limits.resolve_commodity(s, "旧名")  # the former name still finds it
        assert berry.code == "FRUIT-BERRY" and berry.name_zh == "浆果和其他小型类水果"
        s.add(Analyte(code="IMIDACLOPRID", name_zh="吡虫啉", name_en="imidacloprid"))
        s.flush()
        found = limits.find(s, "蓝莓", "吡虫啉")
        assert found.group_path == ("水果", "浆果和其他小型类水果") and found.limit is None
