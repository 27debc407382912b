"""Public report verification: a browser (and curl's */*) gets the zh-CN/English page saying 报告真实有效 or
that the report was replaced by report X, with sample, producer and conclusion; JSON only for a client that
asks for it (Accept: application/json)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.verify import wants_json
from lims.db.engine import session_scope
from lims.db.models import Analysis, Producer, User
from lims.demo import LAB_CODE, PASSWORDS, qc_passed_batch, seed_reference
from lims.services import batches, reporting, sampling, signoff

TZ = dt.timezone(dt.timedelta(hours=8))
JSON = {"Accept": "application/json"}


def _hash(report_no: str) -> dict[str, str]:
    """The content hash printed on the report (and carried by its QR code): needed with the number (issue 11)."""
    from lims.db.models import Report

    with _FACTORY[0]() as s:
        return {"sha256": s.execute(select(Report.content_hash).where(Report.report_no == report_no)).scalar_one()}


_FACTORY: list = []


def _signed(factory, rid: int) -> None:
    for user, fn in (("zhangwei", signoff.author_results), ("liqiang", signoff.review_results)):
        with session_scope(factory, actor=user) as s:
            fn(s, [rid], username=user, password=PASSWORDS[user])
    with session_scope(factory, actor="wangfang") as s:
        signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE)


@pytest.fixture
def issued(db_engine, db_factory, tmp_path):
    """A celery sample with a chlorpyrifos result of 0.02 mg/kg, reported, then amended to 0.03 mg/kg."""
    _FACTORY[:] = [db_factory]
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        sampling.create_task(s, code="T-V", name="专项", programme_type="special", issuing_authority="某县农业农村局",
                             required_analytes=[])
        producer = s.execute(select(Producer).order_by(Producer.id)).scalars().first()
        sampling.register_sample(s, sampling.RegisterSample(
            code="S-V1", commodity_code="QINCAI", task_code="T-V", sampled_at=dt.datetime.now(TZ),
            sampling_place="城关镇", region_code="511521", sampling_link="before_harvest", samplers=["赵磊", "孙敏"],
            requested=[("CHLORPYRIFOS", "GC-OP")]))
        s.execute(select(Analysis)).scalars().first().sample.producer_id = producer.id
        sampling.receive_sample(s, "S-V1", actor="zhangwei", condition="完好", storage="A2")
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
        aid = s.execute(select(Analysis.id)).scalar_one()
        qc_passed_batch(s, "B-V1", "GC-OP", [aid])  # a confirmatory result needs its batch QC
        rid = batches.enter_manual_result(s, analysis_id=aid, value_text="0.02", value=0.02, unit="mg/kg",
                                          reason="数据系统离线，按谱图录入", analyst_id=tech).id
        producer_name = producer.name
    _signed(db_factory, rid)
    with session_scope(db_factory, actor="wangfang") as s:
        first = reporting.issue_report(s, "S-V1", out_dir=tmp_path).report_no
    with session_scope(db_factory, actor="zhangwei") as s:
        new = signoff.amend_result(s, rid, value=0.03, value_text="0.03", reason="称样量更正", analyst_id=tech).id
    _signed(db_factory, new)
    with session_scope(db_factory, actor="wangfang") as s:
        second = reporting.issue_report(s, "S-V1", out_dir=tmp_path, amendment_reason="称样量更正").report_no
    return TestClient(create_app(db_engine)), first, second, producer_name


def test_browser_gets_the_bilingual_page_saying_valid_with_sample_producer_and_conclusion(issued):
    client, _first, second, producer = issued
    page = client.get(f"/verify/{second}", params=_hash(second),
                      headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "报告真实有效" in text and "authentic and valid" in text
    assert "S-V1" in text and "芹菜" in text and producer in text
    assert "经抽样检验，所检项目符合 GB 2763-2021" in text  # the conclusion the report prints
    assert client.get(f"/verify/{second}", params=_hash(second)).headers["content-type"].startswith("text/html")


def test_replaced_report_names_its_replacement(issued):
    client, first, second, _ = issued
    text = client.get(f"/verify/{first}", params=_hash(first)).text
    assert "报告真实有效" not in text
    assert f"本报告已被报告 <b>{second}</b>" in text and f"replaced by report {second}" in text
    assert f'href="/verify/{second}"' not in text  # its page needs its own printed hash: no link that would 404


def test_json_only_for_clients_that_ask(issued):
    client, first, second, producer = issued
    doc = client.get(f"/verify/{second}", params=_hash(second), headers=JSON)
    assert doc.headers["content-type"].startswith("application/json")
    body = doc.json()
    assert body["current"] is True and body["supersedes"]["report_no"] == first
    assert body["sample"]["producer"] == producer and body["conclusion"].startswith("经抽样检验")
    assert client.get("/verify/NOPE", headers=JSON).status_code == 404
    missing = client.get("/verify/NOPE")
    assert missing.status_code == 404 and "未找到报告" in missing.text


def test_a_hash_given_is_compared(issued):
    client, _first, second, _ = issued
    good = _hash(second)["sha256"]
    assert "内容哈希一致" in client.get(f"/verify/{second}", params={"sha256": good}).text
    # issue 11: a wrong hash says no more than an unknown number (nothing to enumerate)
    wrong = client.get(f"/verify/{second}", params={"sha256": "0" * 64})
    assert wrong.status_code == 404 and "未找到报告" in wrong.text and "芹菜" not in wrong.text


@pytest.mark.parametrize(("accept", "json"), [
    (None, False), ("*/*", False), ("text/html", False), ("application/json", True),
    ("text/html,application/json;q=0.9", False), ("application/json,text/html;q=0.5", True),
    ("application/json;q=0", False),
])
def test_accept_negotiation(accept, json):
    assert wants_json(accept) is json
