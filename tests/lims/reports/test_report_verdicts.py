"""The verdict printed for a stored result: conformity decisions as stored, screening calls as not evaluated
(a rapid test is no conformity decision), anything else as not evaluated; a report line refuses the rest."""

from __future__ import annotations

import pytest

from lims.db.models import Result
from lims.reports import ReportDataError, ResultLine, Verdict
from lims.services.reporting import _verdict


@pytest.mark.parametrize(("stored", "printed"), [
    ("compliant", Verdict.COMPLIANT),
    ("non_compliant", Verdict.NON_COMPLIANT),
    ("compliant_within_uncertainty", Verdict.COMPLIANT_WITHIN_UNCERTAINTY),
    ("banned_substance_detected", Verdict.BANNED_SUBSTANCE_DETECTED),
    ("not_evaluated", Verdict.NOT_EVALUATED),
    ("screen_positive", Verdict.NOT_EVALUATED),
    ("screen_negative", Verdict.NOT_EVALUATED),
    ("screen_invalid", Verdict.NOT_EVALUATED),
    ("banned_detected", Verdict.NOT_EVALUATED),  # the old name of lims.limits is not a stored value
])
def test_the_verdict_printed_for_a_stored_result(stored: str, printed: Verdict):
    assert _verdict(Result(verdict=stored)) is printed


def test_a_report_line_takes_only_a_conformity_verdict():
    line = dict(analyte="毒死蜱", result_text="0.01", unit="mg/kg", method_code="GB 23200.113-2018")
    assert ResultLine(**line, verdict=Verdict.COMPLIANT).verdict is Verdict.COMPLIANT
    with pytest.raises(ReportDataError, match="not a conformity Verdict"):
        ResultLine(**line, verdict=Verdict.SCREEN_POSITIVE)
    with pytest.raises(ReportDataError, match="not a conformity Verdict"):
        ResultLine(**line, verdict="compliant")  # type: ignore[arg-type]
