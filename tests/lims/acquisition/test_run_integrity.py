"""Run integrity (issue 13): the enzyme tester profile's ``[line.group]`` (``#RUN`` … ``#CH``* … ``#END``
with ``count_field``) is checked. A run whose ``#END`` declares 4 channel lines but delivered 3, and a run
with no ``#END``, became ordinary readings; now the run is marked incomplete, its readings are held for
review (the screening path does not turn them into results and names them) and an instrument event shows
the gap. Lines come from the simulator's own encoder (hardware_sim.enzyme)."""

from __future__ import annotations

from datetime import datetime

from hardware_sim.enzyme import ChannelReading, run_lines
from sqlalchemy import select

from lims.acquisition.events import list_events
from lims.db.engine import session_scope
from lims.db.models import Reading
from lims.services.screening import results_from_readings

WHEN = datetime(2026, 12, 6, 9, 30, 0)


def _run(run_no: int, channels: int = 4) -> list[bytes]:
    readings = [ChannelReading(0, "CONTROL", 0.35, 0.80, 0.0)] + [
        ChannelReading(i, f"S-{run_no}-{i}", 0.40, 0.75, 22.0 + i) for i in range(1, channels)]
    return run_lines(run_no, WHEN, readings)  # RUN, CH × channels, END (count = channels)


def _feed(runner, lines: list[bytes]) -> None:
    runner.on_bytes(b"".join(lines), 0.0)


def _held(db_factory) -> dict[int, str]:
    with db_factory() as s:
        return {r.channel: r.review_hold for r in s.execute(
            select(Reading).where(Reading.record_type == "CH", Reading.review_hold != "")).scalars()}


def _events(db_factory, code: str) -> list[dict]:
    with db_factory() as s:
        listed = list_events(s, code)
    assert listed is not None
    return list(listed["events"])


def test_a_complete_run_holds_nothing(db_factory, make_runner, recording_link):
    runner = make_runner("EI-OK", "enzyme_ascii_16ch", recording_link())
    _feed(runner, _run(1))
    runner.on_disconnect()
    assert _held(db_factory) == {} and _events(db_factory, "EI-OK") == []


def test_end_declaring_4_channels_with_3_delivered_is_incomplete_and_held(db_factory, make_runner, recording_link):
    runner = make_runner("EI-GAP", "enzyme_ascii_16ch", recording_link())
    lines = _run(1)
    del lines[3]  # channel 2 never arrived; #END,1,4
    _feed(runner, lines)
    assert set(_held(db_factory)) == {0, 1, 3}
    assert all("declares 4 item lines, 3 received" in h for h in _held(db_factory).values())
    (event,) = _events(db_factory, "EI-GAP")
    assert event["kind"] == "run_incomplete" and event["run_no"] == "1"
    with db_factory() as s:
        ids = list(s.execute(select(Reading.id).order_by(Reading.id)).scalars())
    with session_scope(db_factory, actor="zhangwei") as s:
        outcome = results_from_readings(s, ids)
    assert outcome.results == [] and len(outcome.problems) == 3
    assert all("held for review: run incomplete" in p for p in outcome.problems)


def test_a_run_without_end_is_found_at_the_next_run_and_at_link_loss(db_factory, make_runner, recording_link):
    runner = make_runner("EI-NOEND", "enzyme_ascii_16ch", recording_link())
    _feed(runner, _run(1)[:-1])  # no #END
    assert _held(db_factory) == {}  # not known yet
    _feed(runner, _run(2))  # the next run starts: run 1 had no end
    with db_factory() as s:
        held = s.execute(select(Reading.run_no, Reading.review_hold).where(Reading.review_hold != "")).all()
    assert {run for run, _ in held} == {"1"} and len(held) == 4
    _feed(runner, _run(3)[:-1])
    runner.on_disconnect()  # the link is lost with run 3 open
    events = _events(db_factory, "EI-NOEND")
    assert [e["run_no"] for e in events] == ["3", "1"] and all("no end record" in e["detail"] for e in events)
    runner.on_disconnect()  # recorded once
    assert len(_events(db_factory, "EI-NOEND")) == 2


def test_a_run_resent_whole_after_reconnect_lifts_the_hold(db_factory, make_runner, recording_link):
    runner = make_runner("EI-RESEND", "enzyme_ascii_16ch", recording_link())
    lines = _run(5)
    _feed(runner, lines[:3])
    runner.on_disconnect()
    assert len(_held(db_factory)) == 2
    runner.on_connect()
    _feed(runner, lines)  # the device sends the run again from #RUN: first lines are duplicates
    assert _held(db_factory) == {}
    assert "hold lifted from 2 reading(s)" in _events(db_factory, "EI-RESEND")[0]["detail"]


def test_gold_reader_sequence_gap_is_an_event(db_factory, make_runner, recording_link):
    from hardware_sim.gold import GoldStrip, record_line

    runner = make_runner("CG-SEQ", "colloidal_gold_8lane", recording_link())
    strip = GoldStrip(1, "S-1", "CLEN", 1520, 3210)
    for seq in (9998, 9999, 1, 2, 2, 5):  # wraps after 9999; 2 repeated (a resend); 3 and 4 never arrived
        runner.on_bytes(record_line(seq, WHEN, strip), 0.0)
    (event,) = _events(db_factory, "CG-SEQ")
    assert event["kind"] == "sequence_gap" and "2 record(s) never received between 2 and 5: [3, 4]" in event["detail"]


def test_a_reboot_mid_run_with_the_run_sent_again_is_complete(db_factory, make_runner, recording_link):
    runner = make_runner("EI-BOOT", "enzyme_ascii_16ch", recording_link())
    lines = _run(6)
    _feed(runner, lines[:3] + [b"\x00\xffEI16 BOOT V2.1\r\n"])  # the device reboots mid-run (banner: an error)
    _feed(runner, lines)  # and sends the whole run again: RUN and the first lines are duplicates
    assert _held(db_factory) == {} and _events(db_factory, "EI-BOOT") == []
    damaged = lines[2].replace(b"0.7500", b"0.7509")  # checksum now wrong: an item line kept in error
    runner2 = make_runner("EI-DMG", "enzyme_ascii_16ch", recording_link())
    _feed(runner2, lines[:2] + [damaged] + lines[3:])
    assert _held(db_factory) == {} and _events(db_factory, "EI-DMG") == []  # received whole; one line in error
