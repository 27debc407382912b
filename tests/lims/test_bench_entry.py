"""Rapid-test readings typed at the bench (lims.services.bench): the calls are computed, never typed; a run
with an invalid control, an analysis outside the batch, a confirmatory analysis or an unread strip is refused
whole, nothing recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lims.db.engine import session_scope
from lims.db.models import Analysis, Result, Sample, User
from lims.demo import register_samples, seed_reference
from lims.services import batches
from lims.services.bench import EnzymeChannel, StripReading, enter_enzyme_run, enter_strips
from lims.services.errors import InvalidInput


@pytest.fixture
def day(db_factory: sessionmaker[Session]) -> dict[str, int]:
    """B-1 holds the screening analyses of S20261128-001 and -002; -003 stays outside any batch."""
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhangwei", reason="test") as s:
        ids = dict(s.execute(select(Sample.code, Analysis.id).join(Analysis)).all())
        batches.create_batch(s, code="B-1", method_code="RAPID-EI", instrument_code=None,
                             analysis_ids=[ids["S20261128-001"], ids["S20261128-002"]])
        return {**ids, "analyst": s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()}


def _results(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.execute(select(func.count()).select_from(Result)).scalar_one())


def test_inhibition_and_call_are_computed_from_the_absorbances(db_factory, day):
    with session_scope(db_factory, actor="zhangwei", reason="test") as s:
        out = enter_enzyme_run(s, "B-1", control_a0=0.1, control_a3=0.7, analyst_id=day["analyst"], channels=[
            EnzymeChannel(day["S20261128-001"], 0.1, 0.61), EnzymeChannel(day["S20261128-002"], 0.1, 0.25)])
        assert out.positives == ["S20261128-002"]
        made = [s.get(Result, rid) for rid in out.results]
        assert [r.inhibition_percent for r in made] == [pytest.approx(15.0), pytest.approx(75.0)]
        assert [r.value_text for r in made] == ["15.0% 阴性 / negative", "75.0% 阳性 / positive"]
        assert made[1].details["delta_a_control"] == pytest.approx(0.6)


@pytest.mark.parametrize(("control_a3", "samples", "code"), [
    (0.3, ["S20261128-001"], "bench.control_invalid"),  # control ΔA 0.2 < 0.3: the run is invalid
    (0.7, ["S20261128-003"], "bench.not_in_batch"),
    (0.7, [], "bench.nothing_entered"),
])
def test_refused_runs_record_nothing(db_factory, day, control_a3, samples, code):
    with pytest.raises(InvalidInput) as refused, session_scope(db_factory, actor="zhangwei", reason="test") as s:
        enter_enzyme_run(s, "B-1", control_a0=0.1, control_a3=control_a3, analyst_id=day["analyst"],
                         channels=[EnzymeChannel(day[code_], 0.1, 0.5) for code_ in samples])
    assert refused.value.code == code
    assert _results(db_factory) == 0


def test_strips_need_both_lines_and_the_cut_off_or_a_reading_by_eye(db_factory, day):
    a = day["S20261128-001"]
    for strips, cutoff, code in (([StripReading(a, 500.0, None)], 0.9, "bench.strip_incomplete"),
                                 ([StripReading(a, 500.0, 1000.0)], None, "bench.cutoff_missing"),
                                 ([StripReading(a, visual="maybe")], None, "bench.strip_unread")):
        with pytest.raises(InvalidInput) as refused, session_scope(db_factory, actor="zhangwei", reason="t") as s:
            enter_strips(s, "B-1", strips=strips, cutoff_t_over_c=cutoff, analyst_id=day["analyst"])
        assert refused.value.code == code
    assert _results(db_factory) == 0
    with session_scope(db_factory, actor="zhangwei", reason="test") as s:
        out = enter_strips(s, "B-1", strips=[StripReading(a, 100.0, 200.0)], cutoff_t_over_c=0.9,
                           analyst_id=day["analyst"])  # C below 300 counts: no valid control line
        assert s.get(Result, out.results[0]).qualitative == "invalid"
