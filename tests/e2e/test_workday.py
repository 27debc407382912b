"""A county lab's working day in the browser, as its staff would do it, on the live server of the demo day:

- reception → a simulated enzyme tester's run → batch with QC → the instrument console → authorship (检验)
  → review (审核) → approval (批准) → the report issued, downloaded and verified;
- a PT round from its creation to a participant's scores and report;
- an internal audit's finding through its nonconformity and CAPA to closure.

Each step goes through the pages (forms, buttons, links) the way a person would; the simulator is the demo's
own (hardware_sim over a pty, read by the driver exactly as a serial port)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from lims.db.engine import make_engine, make_session_factory
from lims.demo import PASSWORDS, run_enzyme_tester

SimSample = pytest.importorskip("hardware_sim.enzyme").SimSample


def _submit(page: Any, form: str, button: str | None = None) -> None:
    """Submit a form (by its CSS selector) and wait for the page that answers."""
    with page.expect_navigation():
        page.click(button or f"{form} button[type=submit]")


def _ok(page: Any) -> str:
    """The page's text, after checking it shows no refusal."""
    text = page.inner_text("main")
    alert = page.locator(".error[role=alert]")
    assert alert.count() == 0, f"{page.url}: {alert.first.inner_text()}"
    return text


def _register_sample(page: Any, login: Any, suffix: str, commodity: str = "JIUCAI", task: str = "") -> str:
    login(page, "zhangwei")
    page.goto("/samples/new")
    code = f"S-E2E-{suffix}"
    page.fill("#code", code)
    page.select_option("#commodity_code", commodity)
    if task:
        page.select_option("#task_code", task)
    page.fill("#sampling_place", "某县城关镇蔬菜基地 3 号棚")
    page.select_option("#producer_id", index=1)
    page.fill("#certificate_no", f"HGZ-E2E-{suffix}")
    page.fill("#trace_code", f"TRACE{suffix}")
    page.fill("#sampler1", "赵磊")
    page.fill("#sampler2", "孙敏")
    page.check("input[name=requested][value='OP-CARB|RAPID-EI']")
    _submit(page, "#register-form", "#register")
    assert f"/samples/{code}" in page.url, page.inner_text("main")[:800]
    _ok(page)
    page.fill("#receive-condition", "完好")
    _submit(page, "#receive form", "#receive-submit")
    assert "已接收" in _ok(page)
    return code


def _batch_with_qc(page: Any, code: str, suffix: str) -> str:
    """A batch of the sample's open analysis with a passing CCV, its QC judged."""
    page.goto(f"/batches/new?q={code}")
    page.check(f"tr:has-text('{code}') input[name=analysis_id]")
    batch = f"B-E2E-{suffix}"
    page.fill("#code", batch)
    _submit(page, "#batch-form", "#create-batch")
    assert f"/batches/{batch}/entry" in page.url, page.inner_text("main")[:800]
    page.select_option("#qc-kind", "ccv")
    page.fill("#nominal_value", "1.00")
    page.fill("#measured_value", "1.04")
    _submit(page, "#qc-form", "#add-qc")
    _ok(page)
    _submit(page, "#evaluate-form", "#evaluate-qc")
    assert "质控通过" in _ok(page)
    return batch


def _tester_run(demo_dir: Path, code: str, run_no: int, inhibition: float = 12.0) -> None:
    """The bench's enzyme tester (simulated, on a pty) reads the sample on channel 1."""
    factory = make_session_factory(make_engine(f"sqlite:///{demo_dir / 'lims.db'}"))
    _sim, acquisition, _path = run_enzyme_tester(factory, [SimSample(1, code, inhibition)], run_no=run_no,
                                                 seed=run_no)
    assert acquisition.stats.readings >= 2, acquisition.stats  # the control channel and the sample's


def _assign_on_console(page: Any, code: str) -> None:
    page.goto("/instruments/EI-01")
    box = page.locator("fieldset", has_text=code).first
    assert box.count() == 1, "the tester's reading is not among the unmatched readings"
    assert code in box.locator("select[name=analysis_id] option:checked").inner_text()  # matched by sample ID
    box.locator("input[name=reason]").first.fill("新样品首次上机，按样品编号核对后指派")
    with page.expect_navigation():
        box.locator("button", has_text="指派").click()
    assert "已指派并生成结果" in _ok(page)


def _sign(page: Any, username: str, path: str, code: str, button: str, only: str = "") -> None:
    """Check every result of the sample on the page (those whose row shows ``only``, when given) and sign
    them with the password."""
    page.goto(path)
    rows = page.locator("tr", has_text=code)
    boxes = (rows.filter(has_text=only) if only else rows).locator("input[name=result_id]")
    assert boxes.count() >= 1, f"no result of {code} on {path}"
    for box in boxes.all():
        box.check()
    page.fill("#password", PASSWORDS[username])
    with page.expect_navigation():
        page.click(button)
    _ok(page)


def test_a_sample_from_reception_to_a_verified_report(page: Any, login: Any, as_user: Any, demo_dir: Path) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    code = _register_sample(page, login, suffix)
    batch = _batch_with_qc(page, code, suffix)
    _tester_run(demo_dir, code, run_no=int(suffix, 16) % 9000 + 100)
    _assign_on_console(page, code)
    _sign(page, "zhangwei", f"/author?batch={batch}", code, "#sign-authorship")

    _sign(as_user("liqiang"), "liqiang", "/review", code, "button[formaction='/review/sign/review']")
    ap = as_user("wangfang")
    _sign(ap, "wangfang", "/review", code, "button[formaction='/review/sign/approve']")
    ap.goto("/reports")
    ap.select_option("#sample_code", code)
    with ap.expect_navigation():
        ap.click("#issue button[type=submit]")
    text = _ok(ap)
    report_no = re.search(r"JC\S*E2E-" + suffix + r"\S*", text)
    assert report_no, text[:1000]
    number = report_no.group(0)
    with ap.expect_download() as got:
        ap.locator(f"a[href='/api/v1/reports/{number}/pdf']").first.click()
    pdf = Path(got.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    ap.goto(f"/reports?q={number}")
    with ap.expect_navigation():
        ap.locator(f"a[href^='/verify/{number}?sha256=']").first.click()
    verdict = ap.inner_text("body")
    assert "报告真实有效" in verdict and "内容哈希一致" in verdict, verdict[:600]
    page.goto("/")  # the day's dashboard lists the sample
    assert code in page.inner_text("main")


def _post_form(page: Any, action: str, fields: dict[str, str] | None = None, *, within: str = "") -> str:
    """Fill the form posting to ``action`` (text fields and selects by name) and submit it; the answer's text."""
    form = page.locator(f"{within} form[action='{action}']".strip()).first
    for name, value in (fields or {}).items():
        field = form.locator(f"[name='{name}']").first
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        elif field.get_attribute("type") == "radio":
            form.locator(f"[name='{name}'][value='{value}']").check()
        else:
            field.fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()
    return _ok(page)


def test_an_audit_finding_through_capa_to_closure(page: Any, login: Any) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    code = f"IA-E2E-{suffix}"
    login(page, "wangfang")
    page.goto("/quality/audits")
    today = dt.date.today().isoformat()
    _post_form(page, "/quality/audits", {"code": code, "title": "样品管理专项内部审核", "start_date": today,
                                         "end_date": today, "clauses": "17025:7.4"})
    assert f"/quality/audits/{code}" in page.url
    _post_form(page, f"/quality/audits/{code}/start")
    _post_form(page, f"/quality/audits/{code}/findings", {
        "clause_id": "17025:7.4", "grade": "minor", "owner": "zhangwei",
        "description": "留样室 3 份样品的留样标签未注明留样期限（抽查 10 份）"})
    with page.expect_navigation():
        page.locator("a[href^='/quality/ncs/']").first.click()
    nc_path = urlsplit(page.url).path
    assert "留样期限" in _ok(page)  # the finding's nonconformity, raised by the finding itself
    _post_form(page, f"{nc_path}/root-cause", {"root_cause": "留样标签模板缺少留样期限一栏，培训未覆盖"})
    due = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    _post_form(page, f"{nc_path}/action", {"description": "修订留样标签模板并补标现存留样", "owner": "zhangwei",
                                           "due_date": due})
    _post_form(page, f"{nc_path}/done", {"note": "新模板已启用，现存留样已补标"})
    _post_form(page, f"{nc_path}/implemented")
    _post_form(page, f"{nc_path}/verification", {"verification": "复查 20 份留样，标签均注明留样期限",
                                                 "effective": "yes"})
    text = _post_form(page, f"{nc_path}/close", {"note": "措施有效，关闭"})
    assert "已关闭" in text
    page.goto(f"/quality/audits/{code}")
    assert "已完成" in _post_form(page, f"/quality/audits/{code}/complete")


#: The participants' results for chlorpyrifos (mg/kg): eleven close to 0.20 and one far off.
PT_RESULTS = (0.198, 0.205, 0.191, 0.210, 0.202, 0.187, 0.199, 0.215, 0.196, 0.204, 0.201, 0.320)


def _participants(page: Any) -> dict[str, str]:
    """{lab code: anonymous participant code} from the round page's participant table."""
    out = {}
    for row in page.locator("h2:has-text('参加者') + div.scroll tr").all()[1:]:
        cells = row.locator("td").all_inner_texts()
        out[cells[1].split()[-1]] = cells[0].split()[0]
    return out


def test_a_pt_round_from_creation_to_a_participants_report(page: Any, login: Any) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    code = f"PT-E2E-{suffix}"
    login(page, "wangfang")
    page.goto("/pt")
    deadline = (dt.datetime.now() + dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    _post_form(page, "/pt/rounds", {"scheme_code": "PROV-PEST", "scheme_name": "蔬菜中农药残留能力验证",
                                    "provider_name": "省农产品质量安全中心", "code": code,
                                    "title": "2026 年蔬菜中毒死蜱测定能力验证", "matrix": "芹菜匀浆",
                                    "deadline": deadline, "analytes": "chlorpyrifos, 毒死蜱, mg/kg, 0.01"})
    assert f"/pt/rounds/{code}" in page.url
    labs = "\n".join(f"LAB{i:03d}, 某县农产品质量安全检测站 {i}" for i in range(1, len(PT_RESULTS) + 1))
    _post_form(page, f"/pt/rounds/{code}/participants", {"labs": labs})
    participants = _participants(page)
    assert len(participants) == len(PT_RESULTS), participants
    _post_form(page, f"/pt/rounds/{code}/step/open")
    for i, value in enumerate(PT_RESULTS, start=1):  # the provider enters each lab's returned result
        page.goto(f"/pt/rounds/{code}/submit")
        page.fill("input[name=participant_code]", participants[f"LAB{i:03d}"])
        page.fill("input[name=result__chlorpyrifos]", f"{value}")
        with page.expect_navigation():
            page.click("form button[type=submit]")
        assert page.locator("[role=alert]").count() == 0, page.inner_text("body")[:600]
    page.goto(f"/pt/rounds/{code}")
    for step in ("close", "score", "publish"):
        _post_form(page, f"/pt/rounds/{code}/step/{step}")
    text = page.inner_text("main")
    assert "已发布" in text and "不满意" in text  # the far-off lab (0.320 mg/kg) is unsatisfactory
    outlier = participants[f"LAB{len(PT_RESULTS):03d}"]
    href = page.locator(f"a[href$='/reports/{outlier}.pdf']").first.get_attribute("href")
    pdf = page.request.get(href)  # the participant's report, as the link on the page gives it
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")


def test_a_screening_positive_through_confirmation(page: Any, login: Any, as_user: Any, demo_dir: Path) -> None:
    """Celery of the routine monitoring task at 67 % inhibition screens positive; the task's confirmatory GC
    analysis (chlorpyrifos) is requested by itself, done
    in a batch with QC, entered with its reason, signed three times, and judged against GB 2763-2021."""
    suffix = uuid.uuid4().hex[:6].upper()
    code = _register_sample(page, login, suffix, commodity="QINCAI", task="T2026-LX-11")  # the routine task
    screen = _batch_with_qc(page, code, suffix)
    _tester_run(demo_dir, code, run_no=int(suffix, 16) % 9000 + 100, inhibition=67.0)
    _assign_on_console(page, code)
    page.goto(f"/samples/{code}")
    assert "阳性" in _ok(page)
    confirm = _batch_with_qc(page, code, f"{suffix}-GC")  # the queue now holds the requested GC analysis
    assert code in page.locator("#manual-analysis option:checked").inner_text()  # the GC analysis of the sample
    page.fill("#value", "0.24")
    page.fill("#unit", "mg/kg")
    page.fill("#value_text", "0.24")
    page.fill("#reason", "色谱工作站导出文件损坏，按打印的积分报告录入（附件存档）")
    _submit(page, "#manual-form", "#enter-manual")
    _ok(page)
    for batch in (screen, confirm):
        _sign(page, "zhangwei", f"/author?batch={batch}", code, "#sign-authorship")
    _sign(as_user("liqiang"), "liqiang", "/review", code, "button[formaction='/review/sign/review']")
    ap = as_user("wangfang")
    # the confirmed result is approved; the screening call (no limit for the 有机磷 group in celery) would need
    # the approver's explicit judgement, which the review page cannot take yet (REST only)
    _sign(ap, "wangfang", "/review", code, "button[formaction='/review/sign/approve']", only="毒死蜱")
    ap.goto(f"/samples/{code}")
    assert "不合格" in _ok(ap)
    ap.goto("/")
    assert code in ap.locator("#non-compliant + div").inner_text()  # on the dashboard's non-compliant list
