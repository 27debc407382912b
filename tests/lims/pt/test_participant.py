"""Participant side: scores reported back, running performance, nonconformities (ISO/IEC 17025 7.10, 8.7)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lims.db.engine import session_scope
from lims.db.models import Commodity, Lab, Sample
from lims.db.models_pt import Nonconformity, PtExternalScore
from lims.pt import charts, participant, views
from lims.pt.participant import RecordExternalScore as Score
from lims.services import sampling
from lims.services.errors import Conflict, InvalidInput, NotFound
from proficiency import combined, scores


def _participation(factory, code="FAPAS-19123", date=dt.date(2024, 5, 1), **kw):
    with session_scope(factory, actor="qa") as s:
        return participant.record_participation(s, provider_name="某省中心", round_code=code, round_date=date,
                                                responsible="王质量", **kw).id


def test_unsatisfactory_z_opens_nonconformity_in_same_transaction(db_factory):
    pid = _participation(db_factory)
    with session_scope(db_factory, actor="qa") as s:
        ok = participant.record_external_score(
            s, pid, Score(analyte="毒死蜱", result=0.16, assigned_value=0.15, sigma_pt=0.0375))
        bad = participant.record_external_score(
            s, pid, Score(analyte="腐霉利", result=0.60, assigned_value=0.30, sigma_pt=0.075),
            today=dt.date(2024, 6, 1))
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
        row = participant.record_external_score(
            s, pid, Score(analyte="吡虫啉", result=0.2, assigned_value=0.15, sigma_pt=0.05, u_assigned=0.005,
                          expanded_uncertainty=0.02))
        assert row.en == pytest.approx(0.05 / (0.02**2 + 0.01**2) ** 0.5)
        assert row.nonconformity_id is not None
    with pytest.raises(RuntimeError), session_scope(db_factory, actor="qa") as s:
        participant.record_external_score(
            s, pid, Score(analyte="啶虫脒", result=1.0, assigned_value=0.1, sigma_pt=0.025))
        raise RuntimeError("the transaction fails after the score was written")
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(Nonconformity)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(PtExternalScore)).scalar_one() == 1


def test_provider_score_is_kept_and_judged(db_factory):
    pid = _participation(db_factory)
    with session_scope(db_factory, actor="qa") as s:
        row = participant.record_external_score(
            s, pid, Score(analyte="多菌灵", result=0.1, assigned_value=0.08, sigma_pt=0.02, z=-3.2))
        assert (row.z, row.classification) == (-3.2, "unsatisfactory") and row.nonconformity_id
        with pytest.raises(Conflict):
            participant.record_external_score(
                s, pid, Score(analyte="多菌灵", result=0.1, assigned_value=0.08, sigma_pt=0.02))
        with pytest.raises(InvalidInput) as e:
            participant.record_external_score(
                s, pid, Score(analyte="x", result=0.1, assigned_value=0.08, sigma_pt=0))
        assert e.value.field == "sigma_pt"


def test_running_performance_over_rounds_matches_proficiency(db_factory):
    zs = [0.5, -1.2, 2.4, 3.5, -0.3, 1.1]
    for i, z in enumerate(zs):
        pid = _participation(db_factory, code=f"R{i}", date=dt.date(2020 + i, 3, 1))
        with session_scope(db_factory, actor="qa") as s:
            participant.record_external_score(
                s, pid, Score(analyte="毒死蜱", result=0.1 + z * 0.025, assigned_value=0.1, sigma_pt=0.025))
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
        nc_id = participant.record_external_score(
            s, pid, Score(analyte="a", result=1, assigned_value=0.1, sigma_pt=0.025)).nonconformity_id
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


SAMPLE = {"code": "PT-2024-02", "commodity_code": "tomato", "region_code": "370112", "sampling_link": "retail",
          "samplers": ["张三", "李四"],
          "sampled_at": dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))}


def _lab_and_commodity(factory) -> None:
    with session_scope(factory, actor="qa") as s:
        s.add_all([Lab(code="LAB1", name="县检测站"), Commodity(code="tomato", name_zh="番茄", name_en="tomato")])


def test_pt_sample_registered_as_a_normal_sample_and_received(db_factory):
    _lab_and_commodity(db_factory)
    pid = _participation(db_factory, lab_code="LAB1")
    with session_scope(db_factory, actor="qa") as s:
        sample = participant.register_pt_sample(s, pid, **SAMPLE)
        assert sample.status == "registered" and sample.description == "能力验证样品 某省中心 FAPAS-19123"
        assert "某省中心" in sample.sampling_place
    with session_scope(db_factory, actor="tech") as s:  # the normal workflow takes it from here
        sampling.receive_sample(s, "PT-2024-02", actor="tech", condition="冷冻，完好", storage="-18 ℃ 冰柜")
    with db_factory() as s:
        doc = views.participation_view(s, pid)
        assert doc["sample_code"] == "PT-2024-02" and doc["lab_code"] == "LAB1"
        assert s.execute(select(Sample.status).where(Sample.code == "PT-2024-02")).scalar_one() == "received"
    with session_scope(db_factory, actor="qa") as s, pytest.raises(Conflict) as e:
        participant.register_pt_sample(s, pid, **{**SAMPLE, "code": "PT-2024-03"})
    assert e.value.field == "participation_id"


def test_pt_sample_refused_by_the_sample_rules_writes_nothing(db_factory):
    _lab_and_commodity(db_factory)
    pid = _participation(db_factory)
    for bad, field in (({"region_code": "999999"}, "region_code"), ({"samplers": ["张三"]}, "samplers"),
                       ({"commodity_code": "durian"}, "commodity_code")):
        with pytest.raises(InvalidInput) as e, session_scope(db_factory, actor="qa") as s:
            participant.register_pt_sample(s, pid, **{**SAMPLE, **bad})
        assert e.value.field == field
    with pytest.raises(NotFound) as e, session_scope(db_factory, actor="qa") as s:
        participant.register_pt_sample(s, 999, **SAMPLE)
    assert e.value.field == "participation_id"
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(Sample)).scalar_one() == 0
        assert views.participation_view(s, pid)["sample_code"] is None


def test_participations_view_carries_scores_and_the_nonconformities_opened(db_factory):
    first = _participation(db_factory, code="R1", date=dt.date(2023, 5, 1))
    second = _participation(db_factory, code="R2", date=dt.date(2022, 5, 1))
    with session_scope(db_factory, actor="qa") as s:
        participant.record_external_score(
            s, first, Score(analyte="毒死蜱", result=0.16, assigned_value=0.15, sigma_pt=0.0375))
        bad = participant.record_external_score(
            s, first, Score(analyte="腐霉利", result=0.60, assigned_value=0.30, sigma_pt=0.075))
        nc_id = bad.nonconformity_id
    with db_factory() as s:
        items = views.participations_view(s)
        assert [p["round_code"] for p in items] == ["R2", "R1"]  # by round date
        r1 = items[1]
        assert [(x["analyte"], x["classification"]) for x in r1["scores"]] == [
            ("毒死蜱", "satisfactory"), ("腐霉利", "unsatisfactory")]
        assert r1["scores"][1]["z"] == pytest.approx(scores.z_score(0.60, 0.30, 0.075))
        assert [(n["id"], n["status"]) for n in r1["nonconformities"]] == [(nc_id, "open")]
        assert items[0]["scores"] == [] and items[0]["nonconformities"] == []
        assert views.participation_view(s, second)["round_code"] == "R2"
        with pytest.raises(NotFound) as e:
            views.participation_view(s, 999)
        assert e.value.field == "participation_id"


def test_performance_of_one_lab_and_its_chart(db_factory):
    with session_scope(db_factory, actor="qa") as s:
        s.add_all([Lab(code="LAB1", name="县检测站"), Lab(code="LAB2", name="另一检测站")])
    zs = {"LAB1": [0.5, -1.2, 3.5], "LAB2": [2.2]}
    for lab, values in zs.items():
        for i, z in enumerate(values):
            pid = _participation(db_factory, code=f"{lab}-R{i}", date=dt.date(2021 + i, 3, 1), lab_code=lab)
            with session_scope(db_factory, actor="qa") as s:
                participant.record_external_score(
                    s, pid, Score(analyte="毒死蜱", result=0.1 + z * 0.025, assigned_value=0.1, sigma_pt=0.025))
    with db_factory() as s:
        mine = participant.running_performance(s, analyte="毒死蜱", lab_code="LAB1")
        assert [p.round_code for p in mine] == ["LAB1-R0", "LAB1-R1", "LAB1-R2"]
        assert [p.z for p in mine] == pytest.approx(zs["LAB1"])
        assert mine[-1].rsz == pytest.approx(combined.rescaled_sum_z(zs["LAB1"]))
        svg = charts.to_svg(participant.performance_chart(s, "毒死蜱", lab_code="LAB1"))
        assert b"LAB1-R2" in svg and b"LAB2-R0" not in svg and b"2023-03-01" in svg
        with pytest.raises(NotFound) as e:
            participant.performance_chart(s, "腐霉利")
        assert e.value.field == "analyte"
        with pytest.raises(NotFound) as e:
            participant.running_performance(s, lab_code="NOPE")
        assert e.value.field == "lab_code"
