"""Provider round on the database (SQLite and PostgreSQL): lifecycle, submissions, deadline, scoring.

Scores are checked against :mod:`proficiency` (the pure ISO 13528 numerics, validated there against
ISO 13528:2022 Annex E) and, where the arithmetic is exact by definition, against hand values.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lims.db.engine import session_scope
from lims.db.models import AuditEvent
from lims.db.models_pt import PtParticipant, PtRound, PtRoundAnalyte, PtScore, PtSubmission
from lims.pt import provider, scoring, views
from lims.pt.submissions import SubmissionIn, SubmissionRejected
from lims.services.errors import Conflict, InvalidInput
from proficiency import combined, homogeneity, robust, scores, sigma


def _count(factory, model) -> int:
    with factory() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_lifecycle_end_to_end_scores_equal_proficiency(db_factory, make_round, pt):
    codes = make_round(8)
    omethoate = [None, 0.052, 0.047, 0.049, 0.055, 0.05, 0.046, 0.051]  # lab 0: false negative
    with session_scope(db_factory, actor="lab") as s:
        provider.submit_results(s, pt.round, pt.rows_for(codes, pt.chlorpyrifos) +
                                pt.rows_for(codes, omethoate, analyte="omethoate"), now=pt.t0)
    with session_scope(db_factory, actor="qa") as s:
        items = [[0.150 + 0.001 * i, 0.151 + 0.001 * i] for i in range(10)]
        hom = provider.record_homogeneity(s, pt.round, "chlorpyrifos", items)
        assert hom.g == 10 and hom.m == 2
        provider.record_stability(s, pt.round, "chlorpyrifos", [0.152, 0.150, 0.151], [0.149, 0.150, 0.148])
        provider.close_round(s, pt.round, now=pt.deadline)
        result = scoring.score_round(s, pt.round)
        provider.publish_round(s, pt.round)
    assert result.scores == 15 and result.false_negatives == 1 and result.unsatisfactory >= 1

    est = robust.algorithm_a(pt.chlorpyrifos)
    sig = sigma.ffp_sigma(est.location, 0.25)
    with db_factory() as s:
        rnd = provider.get_round(s, pt.round)
        assert rnd.status == "published" and rnd.published_at is not None
        a = provider.round_analyte(rnd, "chlorpyrifos")
        assert a.assigned_value == pytest.approx(est.location, rel=1e-12)
        assert a.u_assigned == pytest.approx(est.u_assigned, rel=1e-12)
        assert a.sigma_pt == pytest.approx(sig, rel=1e-12)
        assert a.statistic == ("z" if sigma.uncertainty_negligible(est.u_assigned, sig) else "z'")
        # homogeneity re-checked with the round's sigma_pt
        assert a.homogeneity["sigma_pt"] == pytest.approx(sig)
        assert a.homogeneity["s_s"] == pytest.approx(homogeneity.homogeneity_check(items, sig).s_s)
        rows = {r["participant_code"]: r for r in views.score_rows(s, rnd) if r["analyte"] == "chlorpyrifos"}
        for code, x in zip(codes, pt.chlorpyrifos, strict=True):
            ref = scores.score_result(x, est.location, sig, est.u_assigned, expanded_u_result=0.5 * x)
            got = rows[code]
            assert got["z"] == pytest.approx(ref.z, rel=1e-12)
            assert got["score"] == pytest.approx(ref.score, rel=1e-12)
            assert got["zeta"] == pytest.approx(ref.zeta, rel=1e-12)
            assert got["en"] == pytest.approx(ref.en, rel=1e-12)
            assert got["classification"] == ref.classification
        assert rows[codes[-1]]["classification"] == "unsatisfactory"
        om = {r["participant_code"]: r for r in views.score_rows(s, rnd) if r["analyte"] == "omethoate"}
        assert om[codes[0]]["detection"] == "false negative" and om[codes[0]]["z"] is None
        assert om[codes[1]]["detection"] == "true positive"
        p0 = s.execute(select(PtParticipant).where(PtParticipant.code == codes[-1])).scalar_one()
        zs = [rows[codes[-1]]["score"], om[codes[-1]]["score"]]
        assert p0.az2 == pytest.approx(combined.average_squared_z(zs))
        assert p0.rsz == pytest.approx(combined.rescaled_sum_z(zs))
    # every change is in the audit trail
    with db_factory() as s:
        tables = set(s.execute(select(AuditEvent.table_name)).scalars())
    assert {"pt_round", "pt_submission", "pt_score", "pt_item_measurement", "pt_participant"} <= tables


def test_reference_value_with_z_prime_and_exact_hand_scores(db_factory, make_round, pt):
    # x_pt = 0.200 (reference), u = 0.020; sigma_pt = 25 % of 0.2 = 0.05; u > 0.3 * 0.05 = 0.015 -> z'
    spec = provider.AnalyteSpec("procymidone", 0.01, assigned_method="reference", reference_value=0.2,
                                reference_u=0.02)
    codes = make_round(3, specs=[spec])
    with session_scope(db_factory, actor="lab") as s:
        provider.submit_results(s, pt.round, pt.rows_for(codes, [0.3, 0.2, 0.1], "procymidone", u_rel=None),
                                now=pt.t0)
        provider.close_round(s, pt.round, now=pt.t0)
        scoring.score_round(s, pt.round)
    with db_factory() as s:
        rnd = provider.get_round(s, pt.round)
        a = rnd.analytes[0]
        assert (a.assigned_value, a.u_assigned, a.statistic) == (0.2, 0.02, "z'")
        assert a.sigma_pt == pytest.approx(0.05)
        rows = {r["participant_code"]: r for r in views.score_rows(s, rnd)}
        assert rows[codes[0]]["z"] == pytest.approx(2.0)  # (0.3 - 0.2) / 0.05
        assert rows[codes[0]]["score"] == pytest.approx(0.1 / (0.05**2 + 0.02**2) ** 0.5)
        assert rows[codes[0]]["zeta"] is None and rows[codes[0]]["en"] is None  # no U(x) reported


def test_horwitz_and_robust_sigma(db_factory, make_round, pt):
    specs = [provider.AnalyteSpec("a1", 0.01, sigma_method="horwitz"),
             provider.AnalyteSpec("a2", 0.01, sigma_method="robust")]
    codes = make_round(8, specs=specs)
    with session_scope(db_factory, actor="lab") as s:
        provider.submit_results(s, pt.round, pt.rows_for(codes, pt.chlorpyrifos, "a1") +
                                pt.rows_for(codes, pt.chlorpyrifos, "a2"), now=pt.t0)
        provider.close_round(s, pt.round, now=pt.t0)
        scoring.score_round(s, pt.round)
    est = robust.algorithm_a(pt.chlorpyrifos)
    with db_factory() as s:
        a1, a2 = provider.get_round(s, pt.round).analytes
        assert a1.sigma_pt == pytest.approx(sigma.horwitz_sigma_mg_kg(est.location), rel=1e-12)
        assert a2.sigma_pt == pytest.approx(est.scale, rel=1e-12)


def test_false_positive_against_mrrl(db_factory, make_round, pt):
    specs = [provider.AnalyteSpec("chlorpyrifos", 0.01), provider.AnalyteSpec("phorate", 0.01, present=False)]
    codes = make_round(8, specs=specs)
    phorate = [0.02, None, 0.005, None, None, None, None, None]  # 0.02 >= MRRL: false positive; 0.005 not
    with session_scope(db_factory, actor="lab") as s:
        provider.submit_results(s, pt.round, pt.rows_for(codes, pt.chlorpyrifos) +
                                pt.rows_for(codes, phorate, "phorate", u_rel=None)[:2], now=pt.t0)
    with session_scope(db_factory, actor="lab") as s:
        with pytest.raises(SubmissionRejected) as bad:  # 0.005 is below its own LOQ 0.01
            provider.submit_results(s, pt.round, pt.rows_for(codes, phorate, "phorate")[2:3], now=pt.t0)
        assert bad.value.problems[0].field == "result"
    with session_scope(db_factory, actor="qa") as s:
        provider.close_round(s, pt.round, now=pt.t0)
        out = scoring.score_round(s, pt.round)
    assert out.false_positives == 1
    with db_factory() as s:
        p = s.execute(select(PtParticipant).where(PtParticipant.code == codes[0])).scalar_one()
        assert p.false_positives == 1


def test_submission_after_deadline_or_close_is_refused(db_factory, make_round, pt):
    codes = make_round(2)
    row = pt.rows_for(codes[:1], [0.15])
    with session_scope(db_factory, actor="lab") as s, pytest.raises(Conflict) as late:
        provider.submit_results(s, pt.round, row, now=pt.deadline + dt.timedelta(seconds=1))
    assert late.value.field == "deadline"
    with session_scope(db_factory, actor="lab") as s:  # at the deadline itself it is still accepted
        provider.submit_results(s, pt.round, row, now=pt.deadline)
    with session_scope(db_factory, actor="qa") as s:
        provider.close_round(s, pt.round, now=pt.t0)
    with session_scope(db_factory, actor="lab") as s, pytest.raises(Conflict):
        provider.submit_results(s, pt.round, row, now=pt.t0)
    with session_scope(db_factory, actor="lab") as s, pytest.raises(Conflict):
        provider.upload_csv(s, pt.round, "participant_code,analyte,result,unit\n", now=pt.t0)
    assert _count(db_factory, PtSubmission) == 1


def test_resubmission_before_deadline_replaces_and_is_audited(db_factory, make_round, pt):
    codes = make_round(2)
    for value in (0.15, 0.16):
        with session_scope(db_factory, actor="lab") as s:
            provider.submit_results(s, pt.round, pt.rows_for(codes[:1], [value]), now=pt.t0)
    with db_factory() as s:
        assert s.execute(select(PtSubmission.result)).scalars().all() == [0.16]
        upd = s.execute(select(AuditEvent).where(AuditEvent.table_name == "pt_submission",
                                                 AuditEvent.action == "update")).scalars().all()
        assert len(upd) == 1 and '"result":0.15' in upd[0].old


def test_csv_upload_bad_rows_write_nothing_and_name_every_row(db_factory, make_round, pt):
    codes = make_round(3)
    csv_text = (
        "\ufeffParticipant_Code,analyte,result,unit,method,loq,expanded_uncertainty,coverage_factor,recovery_percent\n"
        f"{codes[0]},chlorpyrifos,0.151,mg/kg,GC-MS/MS,0.01,0.075,2,95\n"       # line 2 good
        f"{codes[1]},chlorpyrifos,abc,mg/kg,GC-MS/MS,0.01,,,\n"                  # line 3 result
        f"{codes[2]},chlorpyrifos,0.149,mg/L,GC-MS/MS,0.01,,,\n"                 # line 4 unit (not convertible)
        f"P0000,omethoate,0.05,mg/kg,,,,,\n"                                      # line 5 participant
        f"{codes[0]},omethoate,0.05,mg/kg,,-1,,,\n"                              # line 6 loq
        f"{codes[1]},omethoate,0.05,mg/kg,,,0.02,0,\n"                           # line 7 coverage_factor
        f"{codes[2]},dimethoate,0.05,mg/kg,,,,,\n"                               # line 8 analyte
    )
    with session_scope(db_factory, actor="lab") as s, pytest.raises(SubmissionRejected) as first:
        provider.upload_csv(s, pt.round, csv_text.encode(), now=pt.t0)
    # the file-level pass names the rows it can judge alone
    assert {(p.line, p.field) for p in first.value.problems} == {
        (3, "result"), (6, "loq"), (7, "coverage_factor")}
    assert _count(db_factory, PtSubmission) == 0
    fixed = csv_text.replace(",abc,", ",0.150,").replace(",-1,", ",0.01,").replace(",0.02,0,", ",0.02,2,")
    with session_scope(db_factory, actor="lab") as s, pytest.raises(SubmissionRejected) as second:
        provider.upload_csv(s, pt.round, fixed.encode(), now=pt.t0)
    assert {(p.line, p.field) for p in second.value.problems} == {(4, "unit"), (5, "participant_code"),
                                                                 (8, "analyte")}
    assert "line 4" in str(second.value) and second.value.field == "unit"
    assert _count(db_factory, PtSubmission) == 0
    good = "\n".join(line for i, line in enumerate(fixed.splitlines(), start=1) if i not in (4, 5, 8))
    with session_scope(db_factory, actor="lab") as s:
        assert len(provider.upload_csv(s, pt.round, good.encode(), now=pt.t0)) == 4
    with db_factory() as s:
        sub = s.execute(select(PtSubmission).where(PtSubmission.recovery_percent == 95)).scalar_one()
        assert (sub.method, sub.loq, sub.expanded_uncertainty, sub.coverage_factor, sub.channel) == (
            "GC-MS/MS", 0.01, 0.075, 2.0, "csv")


def test_csv_missing_column_and_duplicates(db_factory, make_round, pt):
    codes = make_round(2)
    with session_scope(db_factory, actor="lab") as s, pytest.raises(SubmissionRejected) as e:
        provider.upload_csv(s, pt.round, "participant_code,analyte,value\nx,y,1\n", now=pt.t0)
    assert {(p.line, p.field) for p in e.value.problems} == {(1, "result"), (1, "unit")}
    dup = f"participant_code,analyte,result,unit\n{codes[0]},chlorpyrifos,0.1,mg/kg\n{codes[0]},chlorpyrifos,0.2,mg/kg\n"
    with session_scope(db_factory, actor="lab") as s, pytest.raises(SubmissionRejected) as e:
        provider.upload_csv(s, pt.round, dup, now=pt.t0)
    assert [(p.line, p.field) for p in e.value.problems] == [(3, "analyte")]
    assert _count(db_factory, PtSubmission) == 0


def test_anonymous_codes_reproducible_from_recorded_seed(db_factory, make_round):
    codes = make_round(5, seed=12345)
    assert len(set(codes)) == 5 and all(c.startswith("P") and len(c) == 5 for c in codes)
    assert codes == provider.anonymous_codes(12345, 0, 5)
    assert provider.anonymous_codes(12345, 0, 5) != provider.anonymous_codes(54321, 0, 5)
    with db_factory() as s:
        assert s.execute(select(PtRound.code_seed)).scalar_one() == 12345


def test_lifecycle_guards(db_factory, make_round, pt):
    make_round(2)
    with session_scope(db_factory, actor="qa") as s, pytest.raises(Conflict):
        scoring.score_round(s, pt.round)  # still open
    with session_scope(db_factory, actor="qa") as s, pytest.raises(Conflict):
        provider.publish_round(s, pt.round)
    with session_scope(db_factory, actor="qa") as s:
        provider.close_round(s, pt.round, now=pt.t0)
    with session_scope(db_factory, actor="qa") as s, pytest.raises(InvalidInput) as e:
        scoring.score_round(s, pt.round)  # no results: consensus impossible
    assert e.value.field == "analytes.chlorpyrifos"
    with db_factory() as s:
        assert provider.get_round(s, pt.round).status == "closed"
        assert s.execute(select(func.count()).select_from(PtScore)).scalar_one() == 0


def test_round_input_checked(db_factory):
    with session_scope(db_factory, actor="qa") as s:
        provider.create_scheme(s, code="S1", name="n", provider_name="p")
    deadline = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    bad = [
        ([provider.AnalyteSpec("a", 0.0)], "analytes[0].mrrl"),
        ([provider.AnalyteSpec("a", 0.01, assigned_method="reference")], "analytes[0].reference_value"),
        ([provider.AnalyteSpec("a", 0.01, sigma_method="horwitz", unit="%")], "analytes[0].unit"),
        ([provider.AnalyteSpec("a", 0.01), provider.AnalyteSpec("a", 0.02)], "analytes[1].code"),
    ]
    for specs, field in bad:
        with session_scope(db_factory, actor="qa") as s, pytest.raises(InvalidInput) as e:
            provider.create_round(s, scheme_code="S1", code="R", title="t", deadline=deadline, analytes=specs)
        assert e.value.field == field
    with session_scope(db_factory, actor="qa") as s, pytest.raises(InvalidInput) as e:
        provider.create_round(s, scheme_code="S1", code="R", title="t", deadline=deadline.replace(tzinfo=None),
                              analytes=[provider.AnalyteSpec("a", 0.01)])
    assert e.value.field == "deadline"
    assert _count(db_factory, PtRoundAnalyte) == 0


def test_homogeneity_bad_design_is_refused(db_factory, make_round, pt):
    make_round(2)
    with session_scope(db_factory, actor="qa") as s, pytest.raises(InvalidInput) as e:
        provider.record_homogeneity(s, pt.round, "chlorpyrifos", [[0.1, 0.2], [0.1]])
    assert e.value.field == "items"


def test_submit_rows_name_their_problems(db_factory, make_round, pt):
    codes = make_round(2)
    rows = [SubmissionIn(codes[0], "chlorpyrifos", 0.1, "mg/kg", coverage_factor=2.0)]
    with session_scope(db_factory, actor="lab") as s, pytest.raises(SubmissionRejected) as e:
        provider.submit_results(s, pt.round, rows, now=pt.t0)
    assert e.value.field == "expanded_uncertainty"
