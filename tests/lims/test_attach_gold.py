"""Colloidal-gold strip readings become screening results of the samples they name: the call is made
again from T, C and the kit's cut-off (competitive strip), a positive requests confirmation, and a
device call that disagrees is reported, not silently replaced."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analysis, Instrument, Lab, Method, RawCapture, Reading, Result
from lims.demo import seed_reference
from lims.services import attach, sampling

TZ = dt.timezone(dt.timedelta(hours=8))


def _setup(factory) -> list[int]:
    seed_reference(factory)
    with session_scope(factory, actor="qa") as s:
        lab = s.execute(select(Lab)).scalar_one()
        s.add(Method(code="RAPID-GOLD", name="动物尿液中克仑特罗的测定 胶体金免疫层析法", standard="GB/T 21313-2007",
                     kind="screening", unit="T/C"))
        s.add(Instrument(lab_id=lab.id, code="CG-01", name="胶体金读数仪", profile="colloidal_gold_8lane"))
        s.flush()
        for code in ("P-1", "P-2", "P-3"):
            sampling.register_sample(s, sampling.RegisterSample(
                code=code, commodity_code="ZHUROU", sampled_at=dt.datetime.now(TZ), sampling_place="屠宰场",
                region_code="511521", sampling_link="before_slaughter", samplers=["赵磊", "孙敏"],
                requested=[("CLENBUTEROL", "RAPID-GOLD")]))
        inst = s.execute(select(Instrument).where(Instrument.code == "CG-01")).scalar_one()
        cap = RawCapture(instrument_id=inst.id, data=b"@GR;...", sha256="0" * 64, profile="colloidal_gold_8lane")
        s.add(cap)
        s.flush()
        # (sample, T, C, device call): negative; positive (T/C 0.45 < 0.8); C line missing but device says NEG
        rows = [("P-1", 3100, 3200, "NEG"), ("P-2", 1440, 3200, "POS"), ("P-3", 900, 120, "NEG")]
        ids = []
        for i, (code, t, c, call) in enumerate(rows, start=1):
            rd = Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="strip", channel=i,
                         sample_code=code, run_no=str(i),
                         fields={"seq": i, "lane": i, "t_intensity": t, "c_intensity": c,
                                 "t_over_c": round(t / c, 3), "result": call, "cutoff": 0.8, "item": "CLEN"})
            s.add(rd)
            s.flush()
            ids.append(rd.id)
    return ids


def test_strip_calls_confirmation_and_disagreement(db_factory):
    ids = _setup(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        out = attach.results_from_gold(s, ids)
    assert len(out.results) == 3 and out.positives == ["P-2"] and not out.unmatched_readings
    assert len(out.problems) == 1 and "P-3" in out.problems[0]
    with db_factory() as s:
        calls = {r.analysis.sample.code: (r.qualitative, r.details["device_call"])
                 for r in s.execute(select(Result)).scalars()}
        assert calls == {"P-1": ("negative", "NEG"), "P-2": ("positive", "POS"), "P-3": ("invalid", "NEG")}
        confirm = s.execute(select(Analysis).where(Analysis.kind == "confirmatory")).scalars().all()
        assert [a.sample.code for a in confirm] == ["P-2"]
        assert confirm[0].method.code == "LC-BA"  # the method whose scope holds clenbuterol, not the GC


def test_reading_for_an_unknown_sample_stays_unattached(db_factory):
    ids = _setup(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        s.get(Reading, ids[0]).sample_code = "NOPE"
    with session_scope(db_factory, actor="zhangwei") as s:
        out = attach.results_from_gold(s, ids)
    assert out.unmatched_readings == [ids[0]] and len(out.results) == 2
