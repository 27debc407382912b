"""Captures an earlier run committed but never parsed (``pending``: the process was killed between the two)
are settled when the acquisition service starts, exactly as the live runners would have parsed them, once:
a second start changes nothing. The bytes come from the simulators' own encoders (hardware_sim), written
independently of the project's codecs."""

from __future__ import annotations

import hashlib
from datetime import datetime

from hardware_sim.astm import AstmMessage, AstmResult, message_frames, message_records
from hardware_sim.binary_tester import build_frame, result_payload
from hardware_sim.enzyme import ChannelReading
from hardware_sim.gold import GoldStrip, record_line
from sqlalchemy import func, select

from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.dialects.astm import astm_sessions
from lims.acquisition.dialects.files import FILE_PROFILE
from lims.acquisition.service import ensure_instruments
from lims.acquisition.store import CaptureStore, NewCapture
from lims.db.models import AuditEvent, Instrument, RawCapture, Reading

WHEN = datetime(2025, 3, 14, 9, 30, 5)
CONFIG = """
[[instrument]]
code = "CG-P"
profile = "colloidal_gold_8lane"
transport = "/dev/null"

[[instrument]]
code = "GC-P"
profile = "astm_gc_datasystem"
transport = "/dev/null"

[[instrument]]
code = "RT-P"
profile = "rapid_binary_16ch"
transport = "/dev/null"
"""


def _gold(seq: int, t: int = 1520) -> bytes:
    return record_line(seq, WHEN, GoldStrip(1, f"S{seq:04d}", "CLEN", t, 3210))


def _non_numeric_gold() -> bytes:
    """A record whose checksum is right but whose T intensity is not a number (PROTOCOLS.md (c))."""
    body = b"@GR;0009;20250314;093005;1;S0009;CLEN;15S0;3210;0.474;POS;0.800;"
    return body + f"{sum(body) % 256:02X}\r\n".encode()


def _astm(sample: str) -> list[bytes]:
    msg = AstmMessage(sample, (AstmResult("CHLORPYRIFOS", "0.052", abnormal_flag="H"),
                               AstmResult("DIMETHOATE", "ND")), completed_at=WHEN)
    return message_frames(message_records(msg))


def _binary_reply(run_no: int) -> bytes:
    readings = [ChannelReading(0, "CONTROL", 0.35, 0.80, 0.0), ChannelReading(1, "", 0.8123, 1.1012, 35.8)]
    return b"\x13\x37" + build_frame(0x01, 0x82, result_payload(run_no, WHEN, readings))  # noise, then the reply


def _pending(factory, ids: dict[str, tuple[int, str]]) -> dict[str, list[bytes]]:
    """What a killed run leaves behind, stored as the runners store it (status ``pending``)."""
    gold = CaptureStore(factory, ids["CG-P"][0], "CG-P", "colloidal_gold_8lane")
    seen = _gold(1)
    gold.add([NewCapture(seen, unit_sha256=hashlib.sha256(seen).hexdigest(), status="parsed")])
    with factory() as s:  # an earlier, fully parsed copy of record 1 (its reading exists)
        cap = s.execute(select(RawCapture)).scalar_one()
        s.add(Reading(raw_capture_id=cap.id, instrument_id=cap.instrument_id, record_type="GR", channel=1,
                      sample_code="S0001", run_no="", fields={"seq": 1}))
        s.commit()
    lines = [_gold(1), _gold(2), _gold(2), _non_numeric_gold()]
    gold.add([NewCapture(ln, unit_sha256=hashlib.sha256(ln).hexdigest()) for ln in lines])
    astm = CaptureStore(factory, ids["GC-P"][0], "GC-P", "astm_gc_datasystem")
    cut, whole = _astm("A-CUT"), _astm("A-WHOLE")
    astm.add([NewCapture(f) for f in cut[:3] + whole])  # a session cut after 3 frames, then a whole one
    binary = CaptureStore(factory, ids["RT-P"][0], "RT-P", "rapid_binary_16ch")
    binary.add([NewCapture(_binary_reply(7), source="GET_RESULT"), NewCapture(_binary_reply(7)[2:])])
    return {"cut": cut, "whole": whole}


def _statuses(factory, code: str) -> list[tuple[str, str]]:
    with factory() as s:
        q = (select(RawCapture.parse_status, RawCapture.error).join(Instrument)
             .where(Instrument.code == code).order_by(RawCapture.id))
        return [tuple(r) for r in s.execute(q).all()]


def _readings(factory, code: str) -> list[Reading]:
    with factory() as s:
        q = select(Reading).join(Instrument, Reading.instrument_id == Instrument.id).where(Instrument.code == code)
        return list(s.execute(q.order_by(Reading.id)).scalars())


def test_start_up_settles_pending_captures_once(db_factory, caplog):
    config = parse_config(CONFIG)
    service = AcquisitionService(config, db_factory)
    frames = _pending(db_factory, ensure_instruments(db_factory, config))

    caplog.set_level("WARNING", logger="lims.acquire")
    outcome = service.settle_pending()  # the start-up step of AcquisitionService.start

    gold = _statuses(db_factory, "CG-P")
    assert [st for st, _ in gold] == ["parsed", "duplicate", "parsed", "duplicate", "error"]
    assert gold[4][1].startswith("FieldError") and "t_intensity" in gold[4][1] and "byte offset" in gold[4][1]
    assert sorted(r.fields["seq"] for r in _readings(db_factory, "CG-P")) == [1, 2]  # each record once
    assert (outcome["CG-P"].parsed, outcome["CG-P"].duplicates, outcome["CG-P"].errors) == (1, 2, 1)

    astm = _statuses(db_factory, "GC-P")
    assert [st for st, _ in astm] == ["incomplete"] * 3 + ["parsed"] * len(frames["whole"])
    readings = _readings(db_factory, "GC-P")
    assert [(r.sample_code, r.fields["test_code"], r.fields["value"]) for r in readings] == [
        ("A-WHOLE", "CHLORPYRIFOS", "0.052"), ("A-WHOLE", "DIMETHOATE", "ND")]

    assert [st for st, _ in _statuses(db_factory, "RT-P")] == ["parsed", "duplicate"]  # same reply frame
    assert {r.channel for r in _readings(db_factory, "RT-P")} == {1}

    with db_factory() as s:
        assert s.execute(select(func.count()).where(RawCapture.parse_status == "pending")).scalar_one() == 0
        errors = dict(s.execute(select(Instrument.code, Instrument.error_count)).all())
        events = s.execute(select(AuditEvent.record_id).where(AuditEvent.table_name == "raw_capture")).scalars()
        assert sorted(events) == ["instrument:CG-P", "instrument:GC-P", "instrument:RT-P"]  # one each
    assert errors["CG-P"] == 1  # the content error counts on the instrument, as in the live path
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "CG-P: 4 capture(s) left pending by an earlier run" in logged
    assert f"GC-P: {3 + len(frames['whole'])} capture(s)" in logged

    before = (_statuses(db_factory, "CG-P"), len(_readings(db_factory, "GC-P")), len(_readings(db_factory, "RT-P")))
    again = AcquisitionService(parse_config(CONFIG), db_factory).settle_pending()  # a second start
    assert all(o.captures == 0 for o in again.values())
    assert before == (_statuses(db_factory, "CG-P"), len(_readings(db_factory, "GC-P")),
                      len(_readings(db_factory, "RT-P")))
    assert sorted(r.fields["seq"] for r in _readings(db_factory, "CG-P")) == [1, 2]


def test_astm_sessions_split_where_a_session_starts_and_end_at_the_terminator():
    cut, whole = _astm("X-1"), _astm("X-2")
    long = message_frames(message_records(AstmMessage("X-3", tuple(
        AstmResult(f"A{i}", "1.0") for i in range(9)), completed_at=WHEN)))  # frame numbers wrap past 7 → 0
    assert len(long) > 8
    frames = cut[:2] + whole + long + whole[:1]
    n1, n2, n3 = len(cut[:2]), len(whole), len(long)
    assert astm_sessions(frames) == [
        (list(range(n1)), False),
        (list(range(n1, n1 + n2)), True),
        (list(range(n1 + n2, n1 + n2 + n3)), True),
        ([n1 + n2 + n3], False),
    ]
    assert astm_sessions([b"\x02garbage\r\n"] + whole) == [([0], False), (list(range(1, 1 + n2)), True)]


def test_export_file_left_pending_is_parsed_or_quarantined_at_start(db_factory, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    bad = b"time,signal\n0.0,abc\n"
    (folder / "bad.csv").write_bytes(bad)  # imported (committed) by the killed run, never parsed
    config = parse_config(f'[[watch]]\ninstrument = "GC-F"\nfolder = "{folder}"\n')
    inst_id, _ = ensure_instruments(db_factory, config)["GC-F"]
    CaptureStore(db_factory, inst_id, "GC-F", FILE_PROFILE).add_one(
        NewCapture(bad, source="bad.csv", unit_sha256=hashlib.sha256(bad).hexdigest()))
    AcquisitionService(config, db_factory).settle_pending()
    [(status, error)] = _statuses(db_factory, "GC-F")
    assert status == "error" and "bad.csv" in error and "line 2" in error
    assert not (folder / "bad.csv").exists()
    assert (folder / "quarantine" / "bad.csv.reason.txt").read_text(encoding="utf-8").strip() == error
