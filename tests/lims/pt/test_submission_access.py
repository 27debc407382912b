"""Who may submit a participant's results (issue 11), at the service level: accounts bound to the participant
(lims.pt.submissions.bind_account / check_submitter), the provider on its behalf; text cells of a submission
CSV checked like the JSON fields; every line of a refusal named."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Lab
from lims.pt import submissions
from lims.pt.submissions import RowProblem, SubmissionRejected, parse_row, parse_submission_csv
from lims.services import auth
from lims.services.errors import Conflict, Forbidden, NotFound


@pytest.fixture
def users(db_factory):
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="PROV", name="省检测中心"))
        s.flush()
        return {name: auth.create_user(s, name, name, "Pt-Access-Passw0rd!", ["pt_participant"]).id
                for name in ("ext_a", "ext_b")}


def test_bound_accounts_only(db_factory, make_round, pt, users):
    codes = make_round(labs=3)
    with session_scope(db_factory, actor="qa") as s:
        submissions.bind_account(s, pt.round, codes[0], "ext_a")
        with pytest.raises(Conflict):
            submissions.bind_account(s, pt.round, codes[0], "ext_a")
        with pytest.raises(NotFound):
            submissions.bind_account(s, pt.round, codes[0], "nobody")
        with pytest.raises(NotFound):
            submissions.bind_account(s, pt.round, "P0000", "ext_b")
    rows = pt.rows_for(codes[:2], [0.15, 0.16])
    with db_factory() as s:
        assert submissions.bound_codes(s, _round_id(s, pt), users["ext_a"]) == {codes[0]}
        submissions.check_submitter(s, pt.round, rows[:1], user_id=users["ext_a"], on_behalf=False)
        with pytest.raises(Forbidden) as refused:
            submissions.check_submitter(s, pt.round, rows, user_id=users["ext_a"], on_behalf=False)
        assert refused.value.code == "pt.participant_not_bound" and "line 2" in str(refused.value)
        with pytest.raises(Forbidden):
            submissions.check_submitter(s, pt.round, rows[:1], user_id=users["ext_b"], on_behalf=False)
        submissions.check_submitter(s, pt.round, rows, user_id=users["ext_b"], on_behalf=True)  # the provider


def _round_id(s, pt) -> int:
    from lims.db.models_pt import PtRound

    return s.execute(select(PtRound.id).where(PtRound.code == pt.round)).scalar_one()


@pytest.mark.parametrize(("field", "value"), [("participant_code", "P1\u202e"), ("analyte", "a\x00"),
                                              ("unit", "mg/kg\u200b"), ("method", "GB\x07"),
                                              ("participant_code", "P" * 21)])
def test_text_cells_are_checked_like_the_json_fields(field, value):
    problems: list[RowProblem] = []
    cells = {"participant_code": "P1", "analyte": "a", "result": "0.1", "unit": "mg/kg", "method": ""}
    assert parse_row({**cells, field: value}, 7, problems) is None
    assert [(p.line, p.field) for p in problems] == [(7, field)]


def test_a_csv_over_the_row_limit_is_refused_naming_the_first_line_over(monkeypatch):
    monkeypatch.setattr(submissions, "MAX_ROWS", 3)
    text = "participant_code,analyte,result,unit\n" + "P1,a,0.1,mg/kg\n" * 4
    with pytest.raises(SubmissionRejected) as refused:
        parse_submission_csv(text)
    assert refused.value.problems[0].line == 5 and "more than 3" in refused.value.problems[0].message
