"""The review queue's "check all" (api/static/ui/check_all.js, attached by data- attributes, no inline script):
two authored results of the bench's enzyme tester are in the reviewer's queue; the reviewer checks all of the
"to be reviewed" table with one box, signs, and the results move on to "reviewed, to be approved"."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from lims.demo import PASSWORDS
from tests.e2e.test_workday import (
    _assign_on_console,
    _batch_with_qc,
    _ok,
    _register_sample,
    _sign,
    _tester_run,
)


def _authored_screening_results(page: Any, login: Any, demo_dir: Path, n: int) -> list[str]:
    """``n`` samples registered and received, each run on the tester in a batch of its own and signed by its
    analyst (检验): their results wait for review."""
    suffixes = [uuid.uuid4().hex[:6].upper() for _ in range(n)]
    codes = [_register_sample(page, login, suffix) for suffix in suffixes]
    for code, suffix in zip(codes, suffixes, strict=True):
        batch = _batch_with_qc(page, code, suffix)
        _tester_run(demo_dir, code, run_no=int(suffix, 16) % 9000 + 100)
        _assign_on_console(page, code)
        _sign(page, "zhangwei", f"/author?batch={batch}", code, "#sign-authorship")
    return codes


def test_check_all_signs_every_result_of_the_queue(page: Any, login: Any, as_user: Any, demo_dir: Path) -> None:
    codes = _authored_screening_results(page, login, demo_dir, 2)
    rv = as_user("liqiang")
    rv.goto("/review")
    table = rv.locator("#queue-to_review")
    boxes = table.locator("input[name=result_id]")
    for code in codes:
        assert table.locator("tr", has_text=code).count() == 1, f"{code} is not in the review queue"
    assert boxes.count() >= 2
    check_all = rv.locator("#check-all-to_review")
    assert check_all.is_visible()  # shown by the script (hidden without it)
    assert not any(box.is_checked() for box in boxes.all())
    check_all.check()
    assert all(box.is_checked() for box in boxes.all())
    approve_boxes = rv.locator("#queue-to_approve input[name=result_id]")
    assert not any(box.is_checked() for box in approve_boxes.all())  # the other queue is left alone
    boxes.first.uncheck()  # one row unchecked: the header box is neither checked nor clear
    assert rv.locator("#check-all-to_review").evaluate("e => e.indeterminate && !e.checked")
    check_all.check()
    assert all(box.is_checked() for box in boxes.all())
    n = boxes.count()
    rv.fill("#password", PASSWORDS["liqiang"])
    with rv.expect_navigation():
        rv.click("button[formaction='/review/sign/review']")
    assert f"已审核签名 {n} 条结果" in " ".join(_ok(rv).split())  # every checked result was signed
    for code in codes:
        assert rv.locator("#queue-to_review tr", has_text=code).count() == 0
        assert rv.locator("#queue-to_approve tr", has_text=code).count() == 1  # moved on
