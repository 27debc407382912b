"""Issue 16, the reviewer's and the director's pages on the day `lims demo` makes (a GC batch held by its
failed CCV and its re-run, a batch held by a Westgard rejection, an amended result, issued reports):
the batch page says which analyses are held by which rule in Chinese, draws the curve with its residuals
and the chromatograms with their integration; the result page shows the limit, the decision and its
rule in words and the old value with the amendment's reason; a manual re-integration is audited; the
reports list is searched by report no., sample code and producer and filtered by date. English after
POST /account/language. No machine code reaches the reader."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from lims.db.engine import make_engine, make_session_factory
from lims.db.models import Analysis, AuditEvent, Batch, Producer, Reading, Report, Result, Sample, User
from lims.demo import PASSWORDS, run_demo

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SVG = re.compile(r"<svg\b.*?</svg>", re.S)
#: Stored codes that must never be shown as words on these pages.
CODES = ("simple_acceptance", "non_compliant", "not_evaluated", "qc_failed", "qc_passed", "to_be_reviewed",
         "screen_negative", "reagent_blank", "unverified_limit", "no_limit", "superseded")


@pytest.fixture(scope="module")
def demo_day(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("review-demo") / "day"
    assert run_demo(out)["audit_ok"]
    return out


@dataclass
class Day:
    client_factory: object
    factory: sessionmaker[Session]

    def browser(self, username: str) -> TestClient:
        client = TestClient(self.client_factory)  # type: ignore[arg-type]
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        r = client.post("/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
        return client


@pytest.fixture
def day(demo_day, tmp_path) -> Day:
    """The demo day's database, copied for this test (writes stay in it)."""
    target = tmp_path / "day"
    shutil.copytree(demo_day, target)
    engine = make_engine(f"sqlite:///{target / 'lims.db'}")
    yield Day(create_app(engine), make_session_factory(engine))
    engine.dispose()


def visible(html: str) -> str:
    """The page's words as a reader sees them: no tags, attributes, SVG internals or scripts."""
    html = SVG.sub(" ", html)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(x) for x in SVG.findall(html)]


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found
    return found.group(1)


def _gc_batches(day: Day) -> tuple[str, str, str]:
    with day.factory() as s:
        held = s.execute(select(Batch.code).where(Batch.code.like("B-GC-%"), Batch.status == "qc_failed")).scalar_one()
        rerun = s.execute(select(Batch.code).where(Batch.code.like("B-GC-%"), Batch.status == "qc_passed")).scalar_one()
        westgard = s.execute(select(Batch.code).where(Batch.code.like("B-QC-%"))).scalar_one()
    return held, rerun, westgard


def test_held_batch_says_which_analyses_and_which_rule_in_chinese(day):
    held, _, westgard = _gc_batches(day)
    with day.factory() as s:
        rejected = s.execute(select(Result).join(Analysis).where(Result.status == "rejected",
                                                                 Result.curve_id.is_not(None))).scalar_one()
        rid, sample_code = rejected.id, rejected.analysis.sample.code
    web = day.browser("liqiang")
    page = web.get(f"/batches/{held}")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    words = visible(page.text)
    assert "本批次质控不通过，以下结果暂停发放" in words
    assert "连续校准核查（CCV）偏差 +27.0 %，偏差绝对值应不大于 20 %：不通过" in words
    assert "加标回收率 94.0 %，应在 60–140 % 之间：通过" in words and "空白测得值 0" in words
    # the held analysis is named and linked though it left the batch for the re-run
    assert f'href="/results/{rid}"' in page.text and sample_code in words
    assert "退回原因" in words and "已退回" in words
    # the held result's page names the batch it was made in (its curve's), not the re-run its analysis joined
    result_page = web.get(f"/results/{rid}").text
    assert f'href="/batches/{held}"' in result_page and "批次质控不通过，结果暂停" in visible(result_page)
    # limit, decision and its rule in words beside the result
    assert "0.05 mg/kg（GB 2763-2021" in words and "简单接受规则" in words and "不合格" in words
    for code in CODES:
        assert code not in words, code
    # a Westgard rejection holds its batch: the rule in words
    wg = visible(web.get(f"/batches/{westgard}").text)
    assert "Westgard 多规则 1-3s" in wg and "一个质控值超出均值 ±3s" in wg and "QC-GC01-021" in wg
    assert web.get("/batches/NOPE").status_code == 404


def test_batch_page_draws_the_curve_its_residuals_and_the_chromatograms(day):
    _, rerun, _ = _gc_batches(day)
    with day.factory() as s:
        held_result = s.execute(select(Result.id).where(Result.status == "rejected",
                                                        Result.curve_id.is_not(None))).scalar_one()
    page = day.browser("wangfang").get(f"/batches/{rerun}").text
    assert f'href="/results/{held_result}"' not in page  # it stays with the held batch of its curve
    plots = svgs(page)
    kinds = [p.get("class") for p in plots]
    assert "plot curve" in kinds and "plot residuals" in kinds and "plot chromatogram" in kinds
    ns = "{http://www.w3.org/2000/svg}"
    curve = next(p for p in plots if p.get("class") == "plot curve")
    assert len(curve.findall(f".//{ns}circle[@class='point']")) == 6  # the six standards
    chrom = next(p for p in plots if p.get("class") == "plot chromatogram")
    labelled = [t.text for t in chrom.iter(f"{ns}text") if t.get("class") == "rt"]
    assert any(x and x.startswith("CHLORPYRIFOS 8.2") for x in labelled), labelled
    assert len(chrom.findall(f".//{ns}polygon")) >= 2  # the internal check peak and the analyte's, shaded
    assert "NaN" not in page and "inf" not in "".join(SVG.findall(page)).lower().replace("info", "")
    assert "其余结果的色谱图见各结果页" not in page


def test_a_large_batch_draws_its_first_chromatograms_and_links_the_rest(day, monkeypatch):
    from lims.services.views import review as review_views

    _, rerun, _ = _gc_batches(day)
    monkeypatch.setattr(review_views, "BATCH_CHROMATOGRAMS", 1)
    page = day.browser("wangfang").get(f"/batches/{rerun}").text
    drawn = [p for p in svgs(page) if p.get("class") == "plot chromatogram"]
    assert len(drawn) == 2  # one result's chromatogram and its enlarged peak
    assert "其余结果的色谱图见各结果页" in page


def test_result_page_shows_limit_decision_and_the_amendment_with_its_reason(day):
    with day.factory() as s:
        amended = s.execute(select(Result).where(Result.supersedes_id.is_not(None))).scalar_one()
        rid, old_id = amended.id, amended.supersedes_id
    web = day.browser("wangfang")
    page = web.get(f"/results/{rid}")
    assert page.status_code == 200
    words = visible(page.text)
    assert "更正前" in words and "0.12" in words and "进样前提取液 1:1 稀释未录入" in words
    assert f'href="/results/{old_id}"' in page.text
    assert "0.05 mg/kg（GB 2763-2021" in words and "简单接受规则：测得值不大于限量判为符合" in words
    assert "不合格" in words and "0.24" in words
    kinds = [p.get("class") for p in svgs(page.text)]
    assert kinds.count("plot curve") == 1 and "plot chromatogram" in kinds
    for code in CODES:
        assert code not in words, code
    old = visible(web.get(f"/results/{old_id}").text)
    assert "已被更正" in old and "已被更正版本替代" in old
    assert web.get("/results/999999").status_code == 404


def test_a_result_without_a_limit_says_no_limit_standard(day):
    with day.factory() as s:
        r = s.execute(select(Result).join(Analysis).where(Analysis.kind == "confirmatory",
                                                          Result.status == "rejected")).scalars().first()
        assert r is not None
        details = dict(r.details or {})
        # a confirmatory result whose commodity has no limit row (the check as lims.limits.checks stores it); a
        # certified result is immutable, the held batch's rejected one is not
        s.execute(Result.__table__.update().where(Result.id == r.id).values(
            verdict="not_evaluated", details={**details, "limit_check": {"flag": "no_limit", "banned": False,
                                                                         "judgement": None}}))
        s.commit()
        rid = r.id
    words = visible(day.browser("liqiang").get(f"/results/{rid}").text)
    assert "无限量标准" in words and "未判定" in words and "no_limit" not in words


def test_manual_reintegration_is_audited_and_keeps_the_automatic_peak(day):
    with day.factory() as s:
        r = s.execute(select(Result).where(Result.status == "rejected", Result.reading_id.is_not(None),
                                           Result.curve_id.is_not(None))).scalar_one()
        rid, reading = r.id, s.get(Reading, r.reading_id)
        assert reading is not None
        start, end = reading.fields["start_min"], reading.fields["end_min"]
    tech, reviewer = day.browser("zhangwei"), day.browser("liqiang")
    page = tech.get(f"/results/{rid}").text
    assert f'action="/results/{rid}/reintegrate"' in page
    assert "/reintegrate" not in reviewer.get(f"/results/{rid}").text  # reviewers read, the analyst integrates
    short = tech.post(f"/results/{rid}/reintegrate", data={"csrf_token": csrf_of(page), "start_min": f"{start:.3f}",
                                                           "end_min": f"{end:.3f}", "reason": "短"})
    assert short.status_code == 422 and "reason" in short.text
    bad = tech.post(f"/results/{rid}/reintegrate", data={"csrf_token": csrf_of(page), "start_min": "abc",
                                                         "end_min": "8.5", "reason": "基线漂移，手动调整积分起止点"})
    assert bad.status_code == 422 and 'id="start_min"' in bad.text and "field-error" in bad.text
    refused = reviewer.post(f"/results/{rid}/reintegrate", data={
        "csrf_token": csrf_of(reviewer.get("/review").text), "start_min": "8.0", "end_min": "8.5",
        "reason": "基线漂移，手动调整积分起止点"})
    assert refused.status_code == 403
    with day.factory() as s:
        assert not s.execute(select(Reading.id).where(Reading.record_type == "PEAK_MANUAL")).first()
    ok = tech.post(f"/results/{rid}/reintegrate", data={"csrf_token": csrf_of(page), "start_min": f"{start + 0.02:.3f}",
                                                        "end_min": f"{reading.fields['retention_time_min'] + 0.08:.3f}",
                                                        "reason": "基线漂移，手动调整积分起止点"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/results/{rid}?done=reintegrated"
    shown = tech.get(ok.headers["location"]).text
    assert "已手动重新积分" in shown and "手动积分" in shown and "基线漂移，手动调整积分起止点" in shown
    ns = "{http://www.w3.org/2000/svg}"
    chrom = next(p for p in svgs(shown) if p.get("class") == "plot chromatogram")
    classes = [p.get("class") for p in chrom.iter(f"{ns}polygon")]
    assert "peak manual" in classes and "peak" in classes  # the automatic peak is kept beside it
    with day.factory() as s:
        manual = s.execute(select(Reading).where(Reading.record_type == "PEAK_MANUAL")).scalar_one()
        assert manual.run_no == f"replaces:{reading.id}" and manual.fields["integration"] == "manual"
        value = s.get(Result, rid).value  # type: ignore[union-attr]
    # what the manual area gives by the result's curve (nearly through the origin: value × area ratio), unchanged
    implied = float(re.search(r"按本曲线相当于 ([0-9.]+) mg/kg", shown).group(1))  # type: ignore[union-attr]
    assert implied == pytest.approx(value * manual.fields["area"] / reading.fields["area"], rel=0.02)
    assert implied != pytest.approx(value, rel=1e-3)
    with day.factory() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "reintegrate")).scalar_one()
        assert event.actor == "zhangwei" and "基线漂移" in event.reason
    again = tech.post(f"/results/{rid}/reintegrate", data={"csrf_token": csrf_of(page), "start_min": "8.0",
                                                           "end_min": "8.5", "reason": "再次调整积分起止点"})
    assert again.status_code == 409


def test_reports_list_searches_and_filters_by_date_with_view_amend_verify(day):
    with day.factory() as s:
        report = s.execute(select(Report).order_by(Report.id)).scalars().first()
        assert report is not None
        no, sample = report.report_no, s.get(Sample, report.sample_id)
        assert sample is not None
        code, producer = sample.code, s.get(Producer, sample.producer_id).name  # type: ignore[union-attr]
        total = len(s.execute(select(Report.id)).all())
        issued_day = report.issued_at.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    web = day.browser("wangfang")

    def rows(**params: str) -> list[str]:
        page = web.get("/reports", params=params)
        assert page.status_code == 200
        return re.findall(r'<a href="/verify/([^"?]+)\?', page.text)

    assert len(rows()) == total
    assert no in rows(q=no) and all(n.startswith(no[:4]) for n in rows(q=no))
    assert set(rows(q=code)) == {r for r in rows() if r.endswith(code.removeprefix("S"))} or no in rows(q=code)
    assert no in rows(q=producer[:4])
    assert rows(q="没有这个生产者") == []
    assert no in rows(date_from=issued_day.isoformat(), date_to=issued_day.isoformat())
    assert rows(date_from=(issued_day + dt.timedelta(days=1)).isoformat()) == []
    bad = web.get("/reports", params={"date_from": "2026-13-40"})
    assert bad.status_code == 422 and "日期格式不正确" in bad.text
    page = web.get("/reports", params={"q": no}).text
    assert f'href="/api/v1/reports/{no}/pdf"' in page and f'href="/verify/{no}?sha256=' in page
    assert f'href="/reports?amend={code}#issue"' in page or "已被更正报告替代" in visible(page)
    amend = web.get("/reports", params={"amend": code}).text
    assert 'id="issue"' in amend
    assert "查看" in visible(page) and "验证" in visible(page)


def test_pages_in_english_after_the_language_switch(day):
    held, _, _ = _gc_batches(day)
    web = day.browser("liqiang")
    r = web.post("/account/language", data={"csrf_token": csrf_of(web.get("/review").text), "language": "en",
                                            "back": f"/batches/{held}"}, follow_redirects=False)
    assert r.status_code == 303
    page = web.get(f"/batches/{held}").text
    words = visible(page)
    assert 'lang="en"' in page and "QC outcome" in words and "This batch failed QC" in words
    assert "CCV drift +27.0 %, |drift| at most 20 %: fail" in words and "simple acceptance" in words
    assert "本批次质控不通过" not in words
    curve = next(p for p in svgs(page) if p.get("class") == "plot curve")
    assert curve.findtext("{http://www.w3.org/2000/svg}title", "").startswith("Calibration curve")
    review = visible(web.get("/review").text)
    assert "Review and approval queue" in review and "Electronic signature" in review and "待审核" not in review
    reports = visible(web.get("/reports").text)
    assert "Test reports" in reports and "Find reports" in reports


def test_a_certified_result_is_amended_from_its_page_with_the_reason_shown(day):
    with day.factory() as s:
        current = s.execute(select(Result).where(Result.supersedes_id.is_not(None))).scalar_one()
        rid, count = current.id, len(s.execute(select(Result.id)).all())
    tech, reviewer = day.browser("zhangwei"), day.browser("liqiang")
    page = tech.get(f"/results/{rid}").text
    assert f'action="/results/{rid}/amend"' in page and "计算过程" in visible(page) and "称样量" in visible(page)
    assert f'action="/results/{rid}/amend"' not in reviewer.get(f"/results/{rid}").text
    form = {"csrf_token": csrf_of(page), "value": "0.25", "value_text": "0.25", "reason": "短"}
    short = tech.post(f"/results/{rid}/amend", data=form)
    assert short.status_code == 422 and "field-error" in short.text
    bad = tech.post(f"/results/{rid}/amend", data={**form, "value": "abc", "reason": "复核称样量记录，更正结果"})
    assert bad.status_code == 422 and 'id="value" name="value"' in bad.text
    assert reviewer.post(f"/results/{rid}/amend", data={**form, "csrf_token": csrf_of(reviewer.get("/review").text),
                                                         "reason": "复核称样量记录，更正结果"}).status_code == 403
    with day.factory() as s:
        assert len(s.execute(select(Result.id)).all()) == count  # refused: nothing written
    ok = tech.post(f"/results/{rid}/amend", data={**form, "reason": "复核称样量记录，更正结果"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("?done=amended")
    new = visible(tech.get(ok.headers["location"]).text)
    assert "已建立更正版本" in new and "更正前" in new and "0.24" in new and "复核称样量记录，更正结果" in new
    assert "待审核" in new
    again = tech.get(f"/results/{rid}").text
    assert f'action="/results/{rid}/amend"' not in again and "已被更正" in visible(again)  # one amendment at a time


# ------------------------------------------------------------------------------------------ both databases


def test_held_batch_and_report_search_on_either_database(db_engine, db_factory, tmp_path, monkeypatch):
    """The batch and reports read models on the test database (PostgreSQL in CI): a rapid-test batch held by
    its CCV names its analysis and the rule; an issued report is found by producer and by its issue day."""
    from lims.config import get_settings
    from lims.db.engine import session_scope
    from lims.demo import register_samples, seed_reference
    from lims.services import batches, reporting, signoff
    from lims.services.views import review as review_views

    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    get_settings.cache_clear()
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhangwei", reason="test: batch with a failed CCV") as s:
        aid = s.execute(select(Analysis.id).join(Sample).where(Sample.code == "S20261128-004")).scalar_one()
        batches.create_batch(s, code="B-HELD", method_code="RAPID-EI", instrument_code=None, analysis_ids=[aid])
        batches.add_qc(s, "B-HELD", kind="ccv", nominal_value=0.10, measured_value=0.13)
        batches.evaluate_batch_qc(s, "B-HELD")
        analyst = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
        rid = batches.enter_manual_result(s, analysis_id=aid, value_text="12.0", value=12.0, unit="%",
                                          reason="读数仪故障，人工录入抑制率", analyst_id=analyst).id
        other = s.execute(select(Analysis.id).join(Sample).where(Sample.code == "S20261128-001")).scalar_one()
        ok_id = batches.enter_manual_result(s, analysis_id=other, value_text="10.0", value=10.0, unit="%",
                                            reason="读数仪故障，人工录入抑制率", analyst_id=analyst).id
    for user, sign in (("zhangwei", signoff.author_results), ("liqiang", signoff.review_results)):
        with session_scope(db_factory, actor=user, reason="test: sign") as s:
            sign(s, [ok_id], username=user, password=PASSWORDS[user])
    with session_scope(db_factory, actor="wangfang", reason="test: approve") as s:
        signoff.approve_results(s, [ok_id], username="wangfang", password=PASSWORDS["wangfang"], lab_code="JC")
    with session_scope(db_factory, actor="wangfang", reason="test: report") as s:
        no = reporting.issue_report(s, "S20261128-001", out_dir=tmp_path / "reports").report_no
    with db_factory() as s:
        batch = review_views.batch_review(s, "B-HELD")
        assert batch is not None and batch["held"] and [r["id"] for r in batch["results"]] == [rid]
        assert batch["reasons"][0]["zh"] == "连续校准核查（CCV）偏差 +30.0 %，偏差绝对值应不大于 20 %：不通过"
        assert batch["results"][0]["limit_zh"] == "快速筛查，不作符合性判定"
        producer = s.execute(select(Producer.name).join(Sample, Sample.producer_id == Producer.id)
                             .where(Sample.code == "S20261128-001")).scalar_one()
        report = s.execute(select(Report).where(Report.report_no == no)).scalar_one()
        day_cn = report.issued_at.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date() \
            if report.issued_at.tzinfo is None else report.issued_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()

        def found(**kw: object) -> list[str]:
            return [x["report_no"] for x in review_views.search_reports(s, **kw)["items"]]  # type: ignore[arg-type]

        assert found(q=producer) == [no] and found(q="S20261128-001") == [no] and found(q="无此") == []
        assert found(q="50%") == []  # LIKE wildcards are taken literally
        assert found(date_from=day_cn, date_to=day_cn) == [no]
        assert found(date_to=day_cn - dt.timedelta(days=1)) == [] and found(date_from=day_cn + dt.timedelta(days=1)) == []
    # the review queue says beside the held result why its batch holds it, and links the result's page
    queue = Day(create_app(db_engine), db_factory).browser("liqiang").get("/review").text
    assert "连续校准核查（CCV）偏差 +30.0 %，偏差绝对值应不大于 20 %：不通过" in queue and f'href="/results/{rid}"' in queue
    get_settings.cache_clear()


# ------------------------------------------------------------------------ 无限量标准: the approver's judgement


def _reviewed_without_limit(day: Day) -> int:
    """An amended version of a certified result, its limit check stored as the limit table finds no limit
    (as lims.limits.checks stores it), signed by its analyst and reviewed: waiting for the approver."""
    from lims.db.engine import session_scope
    from lims.services import signoff

    with session_scope(day.factory, actor="zhangwei", reason="test: amendment") as s:
        current = s.execute(select(Result).where(Result.supersedes_id.is_not(None))).scalar_one()
        analyst = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
        new = signoff.amend_result(s, current.id, value=0.25, value_text="0.25", reason="复核称样量记录，更正结果",
                                   analyst_id=analyst)
        s.flush()
        rid, details = new.id, dict(new.details or {})
    with day.factory() as s:
        s.execute(Result.__table__.update().where(Result.id == rid).values(
            verdict="not_evaluated", details={**details, "limit_check": {"flag": "no_limit", "banned": False,
                                                                         "judgement": None}}))
        s.commit()
    for user, sign in (("zhangwei", signoff.author_results), ("liqiang", signoff.review_results)):
        with session_scope(day.factory, actor=user, reason="test: sign") as s:
            sign(s, [rid], username=user, password=PASSWORDS[user])
    return rid


def _judgements(day: Day) -> list[AuditEvent]:
    with day.factory() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.reason.like("limit judgement%"))).scalars())


def test_the_approver_judges_a_result_without_a_limit_on_its_page_then_approves(day):
    rid = _reviewed_without_limit(day)
    approver = day.browser("wangfang")
    queue = approver.get("/review").text
    assert f'href="/results/{rid}#judge"' in queue and "批准前须判定" in visible(queue)
    page = approver.get(f"/results/{rid}").text
    assert f'action="/results/{rid}/limit-judgement"' in page
    words = visible(page)
    assert "无限量标准：批准前判定" in words and "依据指定标准的限量判定" in words and "named_standard" not in words
    # approval without the judgement is refused, as over REST
    refused = approver.post("/review/sign/approve", data={"csrf_token": csrf_of(page), "result_id": str(rid),
                                                          "password": PASSWORDS["wangfang"]})
    assert refused.status_code == 409
    form = {"csrf_token": csrf_of(page), "kind": "named_standard", "standard": "GB 2763-2021", "clause": "4.1",
            "value_mg_kg": "0.5", "source": "", "reason": "", "password": PASSWORDS["wangfang"]}
    ok = approver.post(f"/results/{rid}/limit-judgement", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/results/{rid}?done=judged"
    shown = visible(approver.get(ok.headers["location"]).text)
    assert "已记录无限量标准的判定" in shown and "批准人判定" in shown and "依据指定标准的限量判定" in shown
    assert "无限量标准：批准前判定" not in shown  # judged once
    events = _judgements(day)
    assert [e.actor for e in events] == ["wangfang"] and "named_standard" in events[0].reason
    with day.factory() as s:
        r = s.get(Result, rid)
        assert r is not None and r.verdict == "compliant"  # 0.25 ≤ 0.5 mg/kg
        assert r.details["limit_check"]["judgement"]["standard"] == "GB 2763-2021"
    again = approver.post(f"/results/{rid}/limit-judgement", data=form)
    assert again.status_code == 422 and "已判定" in visible(again.text)
    signed = approver.post("/review/sign/approve", data={"csrf_token": csrf_of(page), "result_id": str(rid),
                                                         "password": PASSWORDS["wangfang"]}, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    with day.factory() as s:
        assert s.get(Result, rid).status == "certified"  # type: ignore[union-attr]


def test_a_technician_sees_no_judgement_form_and_is_refused(day):
    rid = _reviewed_without_limit(day)
    tech = day.browser("zhangwei")
    page = tech.get(f"/results/{rid}").text
    assert "/limit-judgement" not in page and "#judge" not in tech.get("/review").text
    refused = tech.post(f"/results/{rid}/limit-judgement", data={
        "csrf_token": csrf_of(page), "kind": "no_limit_applies", "reason": "该产品无国家限量标准",
        "password": PASSWORDS["zhangwei"]})
    assert refused.status_code == 403 and "<html" in refused.text.lower()
    assert _judgements(day) == []


def test_a_bad_judgement_is_refused_in_chinese_and_records_nothing(day):
    rid = _reviewed_without_limit(day)
    approver = day.browser("wangfang")
    token = csrf_of(approver.get(f"/results/{rid}").text)
    base = {"csrf_token": token, "password": PASSWORDS["wangfang"]}
    short = approver.post(f"/results/{rid}/limit-judgement", data={**base, "kind": "no_limit_applies", "reason": "无"})
    assert short.status_code == 422 and "限量判定不完整" in visible(short.text)
    assert re.search(r'id="judgement_reason"[^>]*class="field-error"', short.text)
    value = approver.post(f"/results/{rid}/limit-judgement", data={
        **base, "kind": "value_with_source", "value_mg_kg": "abc", "source": "企业标准 Q/ABC 001"})
    assert value.status_code == 422 and "请输入有效的数值" in visible(value.text)
    assert re.search(r'id="value_mg_kg"[^>]*class="field-error"', value.text) and 'value="abc"' in value.text
    kind = approver.post(f"/results/{rid}/limit-judgement", data={**base, "kind": "whatever", "reason": "理由写清楚了"})
    assert kind.status_code == 422 and re.search(r'id="kind"[^>]*class="field-error"', kind.text)
    wrong = approver.post(f"/results/{rid}/limit-judgement", data={
        "csrf_token": token, "password": "not-the-password", "kind": "no_limit_applies", "reason": "该产品无国家限量标准"})
    assert wrong.status_code in (401, 403) and "密码错误" in visible(wrong.text)
    assert _judgements(day) == []
    with day.factory() as s:
        r = s.get(Result, rid)
        assert r is not None and r.verdict == "not_evaluated" and not r.details["limit_check"]["judgement"]
