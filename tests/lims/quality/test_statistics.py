"""Annual statistical survey and management review pack (issue 15) on a small dataset built by hand, so
every number can be counted on the fingers: year boundaries in China Standard Time, superseded and
unreviewed results left out, rates, turnaround median/mean, PT scores of the year, instruments and staff;
PDF text extracts back in Chinese (pdftotext), CSV cells are formula-neutral."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import (
    Analysis,
    Analyte,
    Commodity,
    Lab,
    Method,
    MonitoringTask,
    Result,
    Sample,
    Signature,
    User,
)
from lims.db.models_pt import PtExternalScore, PtParticipation
from lims.demo import PASSWORDS, seed_reference
from lims.quality import instruments as ins
from lims.quality import staff, survey_report
from lims.quality import statistics as st
from lims.services.errors import InvalidInput

pytestmark = pytest.mark.db
UTC = dt.UTC


def _t(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def _dataset(factory) -> None:
    seed_reference(factory)
    with session_scope(factory, actor="zhaomin") as s:
        lab = s.execute(select(Lab)).scalars().first()
        a, b = s.execute(select(Commodity).order_by(Commodity.id).limit(2)).scalars().all()
        ei, gc = (s.execute(select(Method).where(Method.code == c)).scalar_one() for c in ("RAPID-EI", "GC-OP"))
        analyte = s.execute(select(Analyte).order_by(Analyte.id)).scalars().first()
        approver = s.execute(select(User).where(User.username == "wangfang")).scalar_one()
        s.add_all([MonitoringTask(code="T-R", name="例行监测", programme_type="routine", issuing_authority="县农业农村局"),
                   MonitoringTask(code="T-S", name="专项监测", programme_type="special", issuing_authority="县农业农村局")])
        # (code, commodity, task, received at (UTC)); S0 is 2025-01-01 04:00 CST, S5 is 2026-01-01 01:00 CST
        plan = [("S0", a, "T-R", _t(2024, 12, 31, 20)), ("S1", a, "T-R", _t(2025, 3, 1)), ("S2", a, "T-R", _t(2025, 4, 1)),
                ("S3", b, "T-S", _t(2025, 5, 1)), ("S4", b, "", _t(2025, 6, 1)), ("S5", b, "T-R", _t(2025, 12, 31, 17))]
        samples = {}
        for code, com, task, rec in plan:
            samples[code] = Sample(code=f"ST-{code}", lab_id=lab.id, commodity_id=com.id, task_code=task, received_at=rec)
            s.add(samples[code])
        s.flush()

        def result(code: str, method: Method, verdict: str, status: str, approved: dt.datetime | None,
                   analysis: Analysis | None = None, version: int = 1) -> Analysis:
            an = analysis or Analysis(sample_id=samples[code].id, method_id=method.id, analyte_id=analyte.id)
            s.add(an)
            s.flush()
            r = Result(analysis_id=an.id, version=version, value=1.0, verdict=verdict, status=status)
            s.add(r)
            s.flush()
            if approved:
                s.add(Signature(record_type="result", record_id=r.id, user_id=approver.id, printed_name="王芳",
                                meaning="approval", signed_at=approved, record_hash="0" * 64))
            return an

        result("S0", ei, "screen_negative", "certified", _t(2025, 1, 3, 20))  # 3 days
        result("S1", ei, "screen_positive", "certified", _t(2025, 3, 2))
        result("S1", gc, "non_compliant", "certified", _t(2025, 3, 6))  # last approval: 5 days
        result("S2", ei, "screen_negative", "reported", _t(2025, 4, 2))
        result("S2", gc, "compliant", "certified", _t(2025, 4, 3, 12))  # 2.5 days
        old = result("S3", gc, "non_compliant", "superseded", _t(2025, 5, 2))  # corrected: not counted
        result("S3", gc, "compliant_within_uncertainty", "certified", _t(2025, 5, 5), analysis=old, version=2)  # 4 days
        result("S4", ei, "screen_positive", "to_be_reviewed", None)  # not current: not counted, no turnaround
        result("S5", gc, "non_compliant", "certified", _t(2026, 1, 2))  # next year
        for when, scores in ((dt.date(2025, 6, 1), ("satisfactory", "satisfactory", "questionable")),
                             (dt.date(2024, 6, 1), ("unsatisfactory",))):
            p = PtParticipation(provider_name="省农产品质检中心", round_code=f"PT-{when.year}", round_date=when)
            s.add(p)
            s.flush()
            s.add_all([PtExternalScore(participation_id=p.id, analyte=f"analyte-{i}", result=1, assigned_value=1,
                                       sigma_pt=0.2, z=0.1, classification=c) for i, c in enumerate(scores)])
        ins.register(s, "EI-01")
        ins.record_check(s, "EI-01", kind="calibration", performed_on=dt.date(2025, 6, 1), due_on=dt.date(2026, 6, 1),
                         outcome="pass", recorded_by="zhaomin", certificate_no="JZ-1")
        ins.register(s, "LC-01")  # in the register, never calibrated: not fit
        staff.grant(s, staff.Grant(username="wangfang", method_code="GC-OP", may_sign=True, valid_from=dt.date(2025, 1, 1),
                                   granted_by="zhaomin"))
        staff.grant(s, staff.Grant(username="liqiang", method_code="GC-OP", may_review=True, valid_from=dt.date(2024, 1, 1),
                                   valid_until=dt.date(2024, 12, 31), granted_by="zhaomin"))  # lapsed before 2025 ended


def test_survey_numbers_from_a_known_dataset(db_factory):
    _dataset(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        sv = st.survey(s, 2025, today=dt.date(2026, 3, 1))
        a, b = (c.name_zh for c in s.execute(select(Commodity).order_by(Commodity.id).limit(2)).scalars())
    assert sv.samples == 5
    assert sv.samples_by_commodity == {a: 3, b: 2}
    assert sv.samples_by_programme == {"routine": 3, "special": 1, "unassigned": 1}
    assert sv.tests_by_method == {"GC-OP": 3, "RAPID-EI": 3}
    assert (sv.screening_results, sv.screening_positive, sv.positive_rate_pct) == (3, 1, 33.33)
    assert (sv.judged_samples, sv.non_compliant_samples, sv.non_compliant_rate_pct) == (3, 1, 33.33)
    assert (sv.turnaround_samples, sv.turnaround_median_days, sv.turnaround_mean_days) == (4, 3.5, 3.62)  # 3,5,2.5,4
    assert sv.pt_scores == {"questionable": 1, "satisfactory": 2}
    assert (sv.instruments, sv.instruments_registered, sv.instruments_fit) == (3, 2, 1)  # EI-01, PH-01, LC-01
    assert sv.staff == len(PASSWORDS) and sv.staff_authorised == 1
    with session_scope(db_factory, actor="zhaomin") as s:
        with pytest.raises(InvalidInput) as e:
            st.survey(s, 1999)
        assert e.value.field == "year"


def test_survey_csv_is_formula_neutral_and_pdf_is_chinese(db_factory, tmp_path):
    _dataset(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        s.add(MonitoringTask(code="T-X", name="x", programme_type="=HYPERLINK(\"http://x\")", issuing_authority="x"))
        s.execute(select(Sample)).scalars().first().task_code = "T-X"
        rows = st.survey_rows(st.survey(s, 2025))
        pack = st.review_pack(s, 2025, today=dt.date(2026, 3, 1))
    text = survey_report.csv_text(rows, ("section", "item", "value"))
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text.replace("\r", "")
    assert {r["clause"] for r in pack} >= {"8.9.2 e", "8.9.2 f", "8.9.2 h", "8.9.2 l", "8.9.2 n"}
    assert next(r["value"] for r in pack if r["clause"] == "8.9.2 h") == "5/0"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    for name, pdf in (("s.pdf", survey_report.survey_pdf(rows, year=2025, lab_name="某县农产品质量安全检测站")),
                      ("m.pdf", survey_report.review_pdf(pack, year=2025, lab_name="某县农产品质量安全检测站"))):
        (tmp_path / name).write_bytes(pdf)
        out = subprocess.run(["pdftotext", str(tmp_path / name), "-"], capture_output=True, text=True, check=True).stdout
        assert "某县农产品质量安全检测站" in out and "第 1 页" in out
    assert "检测机构年度统计调查表" in subprocess.run(["pdftotext", str(tmp_path / "s.pdf"), "-"], capture_output=True,
                                                text=True, check=True).stdout
