"""Record downloads of the TL310 and TY16 testers as (bytes written, bytes received) pairs built from the
cited reader's layout (soldiers1989/UploadSoftWare @ 9f7fab87: clsTL310.cs, clsTY16.cs, ucTTNJ16.cs), played
by a ScriptedLink that fails on any other write and on any exchange left unused, through the runner exactly
as ``lims acquire`` builds it. The frames come from tests/drivers/test_real_device_dialects.py's builders
(written from the byte offsets, not from the simulators or the codec)."""

from __future__ import annotations

from sqlalchemy import select

from drivers.transports.scripted import ScriptedLink
from lims.acquisition.dialects.download import DownloadRunner
from lims.acquisition.events import list_events
from lims.db.models import RawCapture, Reading
from tests.drivers.test_real_device_dialects import tl310_record, ty16_group

TL310_READ_ALL = bytes.fromhex("7E 15 04 00 FF FF FF FF 4D AA")


def _readings(db_factory) -> list[Reading]:
    with db_factory() as s:
        return list(s.execute(select(Reading).order_by(Reading.id)).scalars())


def _events(db_factory, code: str) -> list[dict]:
    with db_factory() as s:
        listed = list_events(s, code)
    assert listed is not None
    return list(listed["events"])


def test_tl310_download_all_records_with_na_and_units(db_factory, make_runner):
    frames = (tl310_record(3, 1, 1, 523, 2) + tl310_record(3, 2, 2, 0x7FFE, 0)
              + tl310_record(3, 3, 3, 687, 1))
    link = ScriptedLink([(TL310_READ_ALL, frames)])
    runner = make_runner("TL-1", "tl310_pesticide", link)
    assert isinstance(runner, DownloadRunner)
    runner.on_bytes(b"", 1e9)
    link.assert_done()
    rows = _readings(db_factory)
    assert [(r.channel, r.value_state, r.fields["inhibition_percent"]) for r in rows] == [
        (1, "ok", 52.3), (2, "sentinel", None), (3, "ok", 68.7)]
    assert rows[1].fields["value_states"] == {"inhibition_percent": {"state": "sentinel", "raw": 0x7FFE}}
    assert all(r.units == {"inhibition_percent": "%"} for r in rows) and all(r.review_hold == "" for r in rows)
    assert _events(db_factory, "TL-1") == []
    link2 = ScriptedLink([(TL310_READ_ALL, frames)])  # the same records downloaded again: duplicates
    runner.link = link2
    runner.next_poll = 0.0
    runner.on_bytes(b"", 2e9)
    assert len(_readings(db_factory)) == 3
    with db_factory() as s:
        assert s.execute(select(RawCapture.parse_status).order_by(RawCapture.id)).scalars().all()[3:] == [
            "duplicate"] * 3


def test_tl310_sequence_gap_is_an_event_and_holds_the_download(db_factory, make_runner):
    link = ScriptedLink([(TL310_READ_ALL, tl310_record(4, 1, 1, 100, 2) + tl310_record(4, 3, 3, 200, 2)
                          + tl310_record(4, 4, 4, 300, 2))])
    runner = make_runner("TL-GAP", "tl310_pesticide", link, timeout_s=0.2)
    runner.on_bytes(b"", 1e9)
    link.assert_done()
    (event,) = _events(db_factory, "TL-GAP")
    assert event["kind"] == "sequence_gap" and "records [2] of 4 missing" in event["detail"]
    assert {r.review_hold for r in _readings(db_factory)} == {"download incomplete: records [2] of 4 missing"}


def test_ty16_download_until_the_end_reply(db_factory, make_runner):
    link = ScriptedLink([
        (b"\x1b\xbf", b"\x1b\x02"),  # handshake
        (b"\x1b\xb1", ty16_group([12.5, None, 61.25, None, None, None, None, 3.0], first=True)),
        (b"\x24", ty16_group([float("nan"), 45.0], first=False)),
        (b"\x24", b"\x1b\xfe"),  # no more groups
    ])
    runner = make_runner("TY-1", "ty16_pesticide", link)
    runner.on_bytes(b"", 1e9)
    link.assert_done()
    rows = _readings(db_factory)
    assert [(r.record_type, r.channel, r.value_state) for r in rows] == [
        ("READ_FIRST", 1, "ok"), ("READ_FIRST", 3, "ok"), ("READ_FIRST", 8, "ok"), ("READ_NEXT", 1, "nan"),
        ("READ_NEXT", 2, "ok")]
    assert rows[2].fields["inhibition_percent"] == 3.0 and rows[3].fields["inhibition_percent"] is None
    assert _events(db_factory, "TY-1") == []


def test_ty16_download_without_end_reply_is_incomplete(db_factory, make_runner):
    link = ScriptedLink([
        (b"\x1b\xbf", b"\x1b\x02"),
        (b"\x1b\xb1", ty16_group([20.0] * 8, first=True)),
        (b"\x24", None),  # the device falls silent: no 1B FE
    ])
    runner = make_runner("TY-2", "ty16_pesticide", link, timeout_s=0.2)
    runner.on_bytes(b"", 1e9)
    link.assert_done()
    (event,) = _events(db_factory, "TY-2")
    assert event["kind"] == "run_incomplete" and "no valid reply to READ_NEXT after 1 group(s)" in event["detail"]
    assert {r.review_hold for r in _readings(db_factory)} == {
        "download incomplete: no valid reply to READ_NEXT after 1 group(s)"}
