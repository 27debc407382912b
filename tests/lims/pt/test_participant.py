"""Participant side: scores reported back, running performance, nonconformities (ISO/IEC 17025 7.10, 8.7)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lims.db.engine import session_scope
from lims.db.models import Commodity, Lab, Sample
from lims.db.models_pt import Nonconformity, PtExternalScore
from lims.pt import participant
from lims.services.errors import Conflict, InvalidInput, NotFound
from proficiency import combined, scores


def _participation(factory, code="FAPAS-19123", date=dt.date(2024, 5, 1), **kw):
    with session_scope(factory, actor="qa") as s:
        return participant.record_participation(s, provider_name="某省中心", round_code=code, round_date=date,
                                                responsible="王质量", **kw).id


def test_unsatisfactory_z_opens_nonconformity_in_same_transaction(db_factory):
    pid = _participation(db_factory)
    with session_scope(db_factory, actor="qa") as s:
        ok = participant.record_external_score(s, pid, analyte="毒死蜱", result=0.16, assigned_value=0.15,
                                               sigma_pt=0.0375)
        bad = participant.record_external_score(s, pid, analyte="腐霉利", result=0.60, assigned_value=0.30,
                                                sigma_pt=0.075, today=dt.date(2024, 6, 1))
        assert ok.nonconformity_id is None and ok.classification == "satisfactory"
        assert bad.z == pytest.approx(scores.z_score(0.60, 0.30, 0.075)) and bad.classification == "unsatisfactory"
        nc_id = bad.nonconformity_id
    with db_factory() as s:
        nc = s.get(Nonconformity, nc_id)
        assert nc.status == "open" and nc.source == "pt" and nc.owner == "王质量"
        assert nc.due_date == dt.date(2024, 7, 1) and "腐霉利" in nc.description


def test_en_action_opens_nonconformity_and_rollback_leaves_none(db_factory):
    pid = _participation(db_factory)
    # z = (0.2 - 0.15)/0.05 = 1 (satisfactory) but E_n = 0.05 / sqrt(0.02^2 + 0.01^2) = 2.24 >= 1
    with session_scope(db_factory, actor="qa") as s:
        row = participant.record_external_score(s, pid, analyte="吡虫啉", result=0.2, assigned_value=0.15,
                                                sigma_pt=0.05, u_assigned=0.005, expanded_uncertainty=0.02)
        assert row.en == pytest.approx(0.05 / (0.02**2 + 0.01**2) ** 0.5)
        assert row.nonconformity_id is not None
    with pytest.raises(RuntimeError), session_scope(db_factory, actor="qa") as s:
        participant.record_external_score(s, pid, analyte="啶虫脒", result=1.0, assigned_value=0.1, sigma_pt=0.025)
        raise RuntimeError("the transaction fails after the score was written")
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(Nonconformity)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(PtExternalScore)).scalar_one() == 1


def test_provider_score_is_kept_and_judged(db_factory):
    pid = _participation(db_factory)
    with session_scope(db_factory, actor="qa") as s:
        row = participant.record_external_score(s, pid, analyte="多菌灵", result=0.1, assigned_value=0.08,
                                                sigma_pt=0.02, z=-3.2)
        assert (row.z, row.classification) == (-3.2, "unsatisfactory") and row.nonconformity_id
        with pytest.raises(Conflict):
            participant.record_external_score(s, pid, analyte="多菌灵", result=0.1, assigned_value=0.08, sigma_pt=0.02)
        with pytest.raises(InvalidInput) as e:
            participant.record_external_score(s, pid, analyte="x", result=0.1, assigned_value=0.08, sigma_pt=0)
        assert e.value.field == "sigma_pt"


def test_running_performance_over_rounds_matches_proficiency(db_factory):
    zs = [0.5, -1.2, 2.4, 3.5, -0.3, 1.1]
    for i, z in enumerate(zs):
        pid = _participation(db_factory, code=f"R{i}", date=dt.date(2020 + i, 3, 1))
        with session_scope(db_factory, actor="qa") as s:
            participant.record_external_score(s, pid, analyte="毒死蜱", result=0.1 + z * 0.025, assigned_value=0.1,
                                              sigma_pt=0.025)
    with db_factory() as s:
        points = participant.running_performance(s, analyte="毒死蜱", window=3)
    assert [p.round_code for p in points] == [f"R{i}" for i in range(6)]
    ref = combined.running_performance([combined.ScoreRecord("lab", "毒死蜱", i, z) for i, z in enumerate(zs)], 3)
    for got, want, z in zip(points, ref, zs, strict=True):
        assert got.z == pytest.approx(z)
        assert (got.n, got.az2, got.rsz) == (want.n, pytest.approx(want.az2), pytest.approx(want.rsz))


def test_nonconformity_steps_in_order(db_factory):
    pid = _participation(db_factory)
    with session_scope(db_factory, actor="qa") as s:
        nc_id = participant.record_external_score(s, pid, analyte="a", result=1, assigned_value=0.1,
                                                  sigma_pt=0.025).nonconformity_id
    with session_scope(db_factory, actor="qa") as s, pytest.raises(Conflict) as e:
        participant.advance_nonconformity(s, nc_id, "action", note="skip")
    assert e.value.field == "status"
    steps = [("root_cause", "标准溶液过期"), ("action", "更换标准溶液并复测"), ("verified", "复测 z = 0.4"),
             ("closed", "有效")]
    for status, note in steps:
        with session_scope(db_factory, actor="qa") as s:
            participant.advance_nonconformity(s, nc_id, status, note=note)
    with db_factory() as s:
        nc = s.get(Nonconformity, nc_id)
        assert nc.status == "closed" and nc.root_cause == "标准溶液过期" and nc.closed_at is not None


def test_pt_sample_linked_by_code(db_factory):
    with session_scope(db_factory, actor="qa") as s:
        lab = Lab(code="LAB1", name="县检测站")
        com = Commodity(code="tomato", name_zh="番茄", name_en="tomato")
        s.add_all([lab, com])
        s.flush()
        s.add(Sample(code="PT-2024-01", lab_id=lab.id, commodity_id=com.id, description="能力验证样品"))
    pid = _participation(db_factory, lab_code="LAB1")
    with session_scope(db_factory, actor="qa") as s:
        p = participant.link_sample(s, pid, "PT-2024-01")
        assert p.sample_id is not None and p.lab_id is not None
        with pytest.raises(NotFound) as e:
            participant.link_sample(s, pid, "NOPE")
        assert e.value.field == "sample_code"
