"""Unit conversion of submitted results: mg/kg ↔ µg/kg (1 mg/kg = 1000 µg/kg, SI prefixes milli 10⁻³,
micro 10⁻⁶, BIPM SI Brochure 9th ed. Table 7), the values as submitted kept in the audit trail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from lims.db.audit import verify_chain
from lims.db.engine import session_scope
from lims.db.models import AuditEvent
from lims.db.models_pt import PtSubmission
from lims.pt import provider, views
from lims.pt.submissions import (
    SubmissionIn,
    SubmissionRejected,
    conversion_exponent,
    convert_row,
    parse_submission_csv,
    scale_decimal,
)

MICRO_SIGN, GREEK_MU = "\u00b5g/kg", "\u03bcg/kg"


def _count(factory, model) -> int:
    with factory() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.mark.parametrize("unit", [MICRO_SIGN, GREEK_MU, "ug/kg"])
def test_microgram_spellings_convert_to_milligram(unit):
    assert conversion_exponent(unit, "mg/kg") == -3 and conversion_exponent("mg/kg", unit) == 3
    row = SubmissionIn("P1001", "chlorpyrifos", 152.0, unit, loq=10.0, expanded_uncertainty=76.0,
                       coverage_factor=2.0, line=7)
    new, conv = convert_row(row, "mg/kg")
    # 152 µg/kg = 0.152 mg/kg, exactly the double nearest to 0.152 (no 0.15200000000000002)
    assert (new.result, new.loq, new.expanded_uncertainty, new.unit) == (0.152, 0.01, 0.076, "mg/kg")
    assert new.coverage_factor == 2.0 and new.line == 7
    assert conv is not None and (conv.original_result, conv.original_unit, conv.line) == (152.0, unit, 7)
    assert conv.audit_old() == {"result": 152.0, "unit": unit, "loq": 10.0, "expanded_uncertainty": 76.0}


def test_decimal_scaling_keeps_the_printed_digits():
    # binary multiplication gives 1.001 * 1000 == 1000.9999999999999
    assert scale_decimal(1.001, 3) == 1001.0 and scale_decimal(1001.0, -3) == 1.001
    assert scale_decimal(None, 3) is None and scale_decimal(1.5e-7, 3) == 1.5e-4


def test_milligram_to_microgram_and_not_detected():
    new, conv = convert_row(SubmissionIn("P1", "a", 0.152, "mg/kg", loq=0.01), MICRO_SIGN)
    assert (new.result, new.loq, new.unit) == (152.0, 10.0, MICRO_SIGN) and conv is not None
    nd, conv = convert_row(SubmissionIn("P1", "a", None, "ug/kg"), "mg/kg")
    assert nd.result is None and nd.unit == "mg/kg" and conv is not None and conv.original_result is None
    same, conv = convert_row(SubmissionIn("P1", "a", 0.1, "mg/kg"), "mg/kg")
    assert conv is None and same.result == 0.1


@pytest.mark.parametrize("unit", ["mg/L", "ppb", "MG/KG", "g/kg", "%"])
def test_other_units_are_refused_naming_the_field(unit):
    with pytest.raises(SubmissionRejected) as e:
        convert_row(SubmissionIn("P1", "chlorpyrifos", 0.1, unit, line=4), "mg/kg")
    assert e.value.field == "unit" and e.value.problems[0].line == 4
    assert "line 4" in str(e.value) and repr(unit) in str(e.value)


def test_submission_in_microgram_is_stored_in_the_round_unit_with_the_original(db_factory, make_round, pt):
    codes = make_round(3)
    rows = [SubmissionIn(codes[0], "chlorpyrifos", 148.0, MICRO_SIGN, loq=10.0, expanded_uncertainty=74.0,
                         coverage_factor=2.0),
            SubmissionIn(codes[1], "chlorpyrifos", 0.156, "mg/kg", loq=0.01)]
    with session_scope(db_factory, actor="lab") as s:
        subs = provider.submit_results(s, pt.round, rows, now=pt.t0)
        assert [(x.result, x.unit) for x in subs] == [(0.148, "mg/kg"), (0.156, "mg/kg")]
        assert (subs[0].loq, subs[0].expanded_uncertainty) == (0.01, 0.074)
        first_id = subs[0].id
    with db_factory() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == provider.CONVERT_UNIT)).scalar_one()
        assert (ev.table_name, ev.record_id, ev.actor) == ("pt_submission", str(first_id), "lab")
        assert json.loads(ev.old) == {"result": 148.0, "unit": MICRO_SIGN, "loq": 10.0, "expanded_uncertainty": 74.0}
        assert json.loads(ev.new)["result"] == 0.148 and json.loads(ev.new)["unit"] == "mg/kg"
        assert verify_chain(s).ok
        rows_out = {r["participant_code"]: r for r in views.score_rows(s, provider.get_round(s, pt.round))}
        assert rows_out[codes[0]]["as_submitted"]["result"] == 148.0
        assert rows_out[codes[0]]["as_submitted"]["unit"] == MICRO_SIGN
        assert rows_out[codes[1]]["as_submitted"] is None
    # the participant replaces it in mg/kg: the current value no longer comes from a conversion
    with session_scope(db_factory, actor="lab") as s:
        provider.submit_results(s, pt.round, [SubmissionIn(codes[0], "chlorpyrifos", 0.150, "mg/kg")],
                                now=pt.t0.replace(hour=9))
    with db_factory() as s:
        sub = s.get(PtSubmission, first_id)
        assert (sub.result, sub.unit) == (0.150, "mg/kg")
        assert provider.unit_conversions(s, [sub]) == {}


def test_reverse_conversion_and_refusal_write_nothing(db_factory, make_round, pt):
    specs = [provider.AnalyteSpec("omethoate", 5.0, unit=MICRO_SIGN, name_zh="氧乐果")]
    codes = make_round(2, specs=specs)
    bad = [SubmissionIn(codes[0], "omethoate", 0.049, "mg/kg"), SubmissionIn(codes[1], "omethoate", 51, "ng/g")]
    with session_scope(db_factory, actor="lab") as s, pytest.raises(SubmissionRejected) as e:
        provider.submit_results(s, pt.round, bad, now=pt.t0)
    assert [(p.line, p.field) for p in e.value.problems] == [(2, "unit")]
    assert _count(db_factory, PtSubmission) == 0
    with db_factory() as s:
        assert not s.execute(select(AuditEvent.id).where(AuditEvent.action == provider.CONVERT_UNIT)).first()
    with session_scope(db_factory, actor="lab") as s:
        (sub,) = provider.submit_results(s, pt.round, bad[:1], now=pt.t0)
        assert (sub.result, sub.unit) == (49.0, MICRO_SIGN)
        assert provider.unit_conversions(s, [sub])[sub.id]["unit"] == "mg/kg"


def test_csv_rows_in_microgram_are_converted_and_lines_kept(db_factory, make_round, pt):
    codes = make_round(2)
    text = ("participant_code,analyte,result,unit,loq\n"
            f"{codes[0]},chlorpyrifos,151,ug/kg,10\n"
            f"{codes[1]},chlorpyrifos,5,ug/kg,10\n")  # below its LOQ once converted: named by line
    assert [r.line for r in parse_submission_csv(text)] == [2, 3]
    with session_scope(db_factory, actor="lab") as s, pytest.raises(SubmissionRejected) as e:
        provider.upload_csv(s, pt.round, text.encode(), now=pt.t0)
    assert [(p.line, p.field) for p in e.value.problems] == [(3, "result")]
    first_row = "\n".join(text.splitlines()[:2]) + "\n"
    with session_scope(db_factory, actor="lab") as s:
        (sub,) = provider.upload_csv(s, pt.round, first_row.encode(), now=pt.t0)
        assert (sub.result, sub.loq, sub.unit, sub.channel) == (0.151, 0.01, "mg/kg", "csv")
