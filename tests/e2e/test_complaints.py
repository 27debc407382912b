"""A complaint in the browser, as the QA manager handles it on the live demo server: from the quality hub to the
complaints page, received by its form, investigated with a nonconformity opened (followed by its link), resolved
and closed; the list filtered by status shows it closed. Chinese throughout, no refusal on the way."""

from __future__ import annotations

import uuid
from typing import Any


def _submit(page: Any, action: str, fields: dict[str, str] | None = None) -> str:
    """Fill the form posting to ``action`` (text fields, selects and checkboxes by name), submit it, and return
    the answer's text after checking it shows no refusal."""
    form = page.locator(f"form[action='{action}']").first
    for name, value in (fields or {}).items():
        field = form.locator(f"[name='{name}']").first
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        elif field.get_attribute("type") == "checkbox":
            field.check()
        else:
            field.fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()
    alert = page.locator(".error[role=alert]")
    assert alert.count() == 0, f"{page.url}: {alert.first.inner_text()}"
    return str(page.inner_text("main"))


def test_a_complaint_from_receipt_through_its_nonconformity_to_closure(page: Any, login: Any) -> None:
    code = f"TS-E2E-{uuid.uuid4().hex[:6].upper()}"
    login(page, "wangfang")
    page.goto("/quality")
    with page.expect_navigation():
        page.click("a[href='/quality/complaints']")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    text = _submit(page, "/quality/complaints", {
        "code": code, "complainant": "县市场监管局 陈科长", "subject": "芹菜样品检测结论存疑",
        "description": "S20261128-002 报告为合格，对方复检检出腐霉利，请核查。"})
    assert page.url.endswith(f"/quality/complaints/{code}?done=received") and "已受理投诉" in text
    detail = f"/quality/complaints/{code}"
    text = _submit(page, f"{detail}/investigate", {"open_nc": "1", "risk": "high", "owner": "liqiang"})
    assert "已开始调查" in text and "调查中" in text
    with page.expect_navigation():
        page.locator("main a[href^='/quality/ncs/']").first.click()
    assert code in page.inner_text("main") and "投诉" in page.inner_text("main")  # the nonconformity it opened
    page.go_back()
    text = _submit(page, f"{detail}/resolve", {"resolution": "留样复测未检出腐霉利，原结论维持，已书面答复投诉人。"})
    assert "已记录处理结果" in text and "原结论维持" in text
    text = _submit(page, f"{detail}/close")
    assert "投诉已关闭" in text
    page.goto("/quality/complaints?status=closed")
    assert code in page.inner_text("main")
    page.goto("/quality/complaints?status=received")
    assert code not in page.inner_text("main")
