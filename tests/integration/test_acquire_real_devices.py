"""`lims acquire` downloading the stored records of the TL310 and TY16 testers (real models; profiles cited
from soldiers1989/UploadSoftWare @ 9f7fab87) from their simulators over real ptys, with faults on. Truth
comes from the simulators' own records, never from the code under test."""

from __future__ import annotations

from datetime import datetime

from hardware_sim.faults import Faults
from hardware_sim.rapid_downloads import TL310Record, TL310Sim, TY16Group, TY16Sim, wait_downloads
from sqlalchemy import select

from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.events import list_events
from lims.db.models import RawCapture, Reading

WHEN = datetime(2026, 12, 6, 9, 30, 15)


def _service(factory, code: str, profile: str, transport: str, **extra: object) -> AcquisitionService:
    lines = [f'code = "{code}"', f'profile = "{profile}"', f'transport = "{transport}"']
    lines += [f"{k} = {v!r}" for k, v in extra.items()]
    cfg = parse_config("[acquire]\nstatus_interval_s = 0.1\n[[instrument]]\n" + "\n".join(lines) + "\n")
    service = AcquisitionService(cfg, factory)
    service.start()
    return service


def _readings(factory) -> list[Reading]:
    with factory() as s:
        return list(s.execute(select(Reading).order_by(Reading.id)).scalars())


def _events(factory, code: str) -> list[dict]:
    with factory() as s:
        listed = list_events(s, code)
    return list(listed["events"]) if listed else []


def test_tl310_over_pty_records_once_na_typed_and_a_damaged_record_is_a_gap(db_factory, wait_until):
    records = [TL310Record(1, WHEN, 52.3), TL310Record(2, WHEN, None), TL310Record(3, WHEN, 12.0, standard=1),
               TL310Record(4, WHEN, 80.5)]
    sim = TL310Sim(records, faults=Faults(malformed_lines=(2,)))  # record 3's first transmission: bad CRC
    service = _service(db_factory, "TL-PTY", "tl310_pesticide", sim.start_pty(), poll_interval_s=0.3,
                       timeout_s=0.3)
    try:
        assert wait_downloads(sim, 3, 10)
        assert wait_until(lambda: len(_readings(db_factory)) == 4, 5)
    finally:
        service.stop()
        sim.stop()
    rows = _readings(db_factory)
    assert [(r.channel, r.value_state, r.fields["inhibition_percent"]) for r in rows] == [
        (1, "ok", 52.3), (2, "sentinel", None), (4, "ok", 80.5), (3, "ok", 12.0)]  # 3 came with the 2nd download
    events = _events(db_factory, "TL-PTY")
    assert [e["kind"] for e in events] == ["sequence_gap"]  # the first download missed record 3
    assert "records [3] of 4 missing" in events[0]["detail"]
    assert [r.review_hold != "" for r in rows] == [True, True, True, False]
    with db_factory() as s:
        caps = s.execute(select(RawCapture.parse_status, RawCapture.data).order_by(RawCapture.id)).all()
    assert [status for status, _ in caps].count("parsed") == 4
    (rejected,) = [data for status, data in caps if status == "rejected"]
    assert sim.log[2] in rejected and rejected == b"".join(sim.log[:4])  # the whole first download kept


def test_ty16_over_pty_every_group_once_and_a_missing_end_is_visible(db_factory, wait_until):
    groups = [TY16Group(WHEN, (12.5, None, 61.25, 40.0, None, None, None, 3.0)),
              TY16Group(WHEN, (float("inf"), 45.0))]
    sim = TY16Sim(groups)
    service = _service(db_factory, "TY-PTY", "ty16_pesticide", sim.start_pty(), poll_interval_s=5.0)
    try:
        assert wait_until(lambda: len(_readings(db_factory)) == 6 and sim.commands[-1:] == [b"\x24"], 10)
    finally:
        service.stop()
        sim.stop()
    rows = _readings(db_factory)
    assert [(r.channel, r.value_state) for r in rows] == [(1, "ok"), (3, "ok"), (4, "ok"), (8, "ok"),
                                                          (1, "infinite"), (2, "ok")]
    assert [r.fields["inhibition_percent"] for r in rows[:4]] == [12.5, 61.25, 40.0, 3.0]
    assert sim.commands == [b"\x1b\xbf", b"\x1b\xb1", b"\x24", b"\x24"]
    assert _events(db_factory, "TY-PTY") == []


def test_ty16_over_pty_without_end_reply_holds_the_download(db_factory, wait_until):
    sim = TY16Sim([TY16Group(WHEN, (30.0,))], omit_end=True)
    service = _service(db_factory, "TY-NOEND", "ty16_pesticide", sim.start_pty(), poll_interval_s=30.0,
                       timeout_s=0.3)
    try:
        assert wait_until(lambda: _events(db_factory, "TY-NOEND"), 10)
    finally:
        service.stop()
        sim.stop()
    (event,) = _events(db_factory, "TY-NOEND")
    assert event["kind"] == "run_incomplete"
    assert [r.review_hold.startswith("download incomplete") for r in _readings(db_factory)] == [True]
