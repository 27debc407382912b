"""The ASTM runner's two rules, driven sans-I/O through a recording link: a frame is ACKed only once its
capture is committed (checked from another connection at the moment the ACK byte is written), and the
session's parse is deferred past EOT so the next ENQ is answered without waiting for it. Frames come from
the simulator's own E1381/E1394 encoder (hardware_sim.astm), not from the code under test."""

from __future__ import annotations

from hardware_sim.astm import AstmMessage, AstmResult, message_frames, message_records
from sqlalchemy import func, select

from lims.acquisition.dialects.astm import AstmRunner
from lims.db.models import RawCapture, Reading

ENQ, ACK, NAK, EOT = b"\x05", b"\x06", b"\x15", b"\x04"


def _runner(make_runner, recording_link, db_factory):  # type: ignore[no-untyped-def]
    """The runner on a recording link that notes, for each ACK, whether the last frame fed was already
    stored (checked from another connection, which sees committed rows only)."""
    link = recording_link()
    link.last_frame = None
    link.ack_saw_capture = []

    def ack_probe(data: bytes) -> None:
        if data == ACK and link.last_frame is not None:
            with db_factory() as s:
                n = s.execute(
                    select(func.count()).select_from(RawCapture).where(RawCapture.data == link.last_frame)
                ).scalar_one()
            link.ack_saw_capture.append(n >= 1)

    link.on_write = ack_probe
    return make_runner("GC-T", "astm_gc_datasystem", link), link


def _feed(runner: AstmRunner, data: bytes, now: float) -> None:
    runner.link.last_frame = data if data.startswith(b"\x02") else None
    runner.on_bytes(data, now)
    runner.after_bytes(data)


def _counts(db_factory) -> tuple[int, dict[str, int]]:
    with db_factory() as s:
        readings = s.execute(select(func.count()).select_from(Reading)).scalar_one()
        statuses = dict(
            s.execute(select(RawCapture.parse_status, func.count()).group_by(RawCapture.parse_status)).all()
        )
    return readings, statuses


def test_ack_only_after_commit_and_parse_deferred_past_eot(db_factory, make_runner, recording_link):
    msg = AstmMessage("S-0001", (AstmResult("CHLORPYRIFOS", "0.012"), AstmResult("DIMETHOATE", "ND")))
    frames = message_frames(message_records(msg))
    runner, link = _runner(make_runner, recording_link, db_factory)
    try:
        _feed(runner, ENQ, 0.0)
        assert link.writes == [ACK]
        for k, f in enumerate(frames):
            _feed(runner, f, 0.1 * (k + 1))
        assert link.ack_saw_capture == [True] * len(frames)
        _feed(runner, EOT, 1.0)
        assert _counts(db_factory) == (0, {"pending": len(frames)})  # nothing parsed at EOT
        _feed(runner, ENQ, 1.01)  # the next session: answered first, then the deferred parse runs
        assert link.writes[-1] == ACK
        assert _counts(db_factory) == (2, {"parsed": len(frames)})

        # the same message again (e.g. resent after a lost link): stored, ACKed, marked duplicate
        for k, f in enumerate(frames):
            _feed(runner, f, 1.1 + 0.1 * k)
        _feed(runner, EOT, 2.0)
        runner.on_disconnect()  # deferred work is done before the link closes
        assert _counts(db_factory) == (2, {"parsed": len(frames), "duplicate": len(frames)})
        assert link.ack_saw_capture == [True] * (2 * len(frames))
        assert (runner.stats.captures, runner.stats.readings, runner.stats.duplicates) == (
            2 * len(frames),
            2,
            1,
        )
    finally:
        runner.close()


def test_damaged_frame_is_kept_as_rejected_and_nak_ed(db_factory, make_runner, recording_link):
    frames = message_frames(message_records(AstmMessage("S-0002", (AstmResult("CHLORPYRIFOS", "0.5"),))))
    bad = bytearray(frames[0])
    bad[5] ^= 0x01  # one bit of the text: the checksum no longer matches (E1381 6.3.3.4)
    runner, link = _runner(make_runner, recording_link, db_factory)
    try:
        _feed(runner, ENQ, 0.0)
        _feed(runner, bytes(bad), 0.1)
        assert link.writes[-1] == NAK
        _feed(runner, frames[0], 0.2)  # the retransmission
        assert link.writes[-1] == ACK and link.ack_saw_capture == [True]
        with db_factory() as s:
            rows = s.execute(select(RawCapture.data, RawCapture.parse_status).order_by(RawCapture.id)).all()
        assert [tuple(r) for r in rows] == [(bytes(bad), "rejected"), (frames[0], "pending")]
    finally:
        runner.close()


def test_a_session_cut_before_its_end_leaves_a_visible_event(make_runner, recording_link, db_factory):
    from lims.acquisition.events import list_events

    runner, _link = _runner(make_runner, recording_link, db_factory)
    frames = message_frames(message_records(AstmMessage("S-CUT", (AstmResult("CHLORPYRIFOS", "0.052"),))))
    _feed(runner, ENQ, 0.0)
    for i, frame in enumerate(frames[:2]):
        _feed(runner, frame, 0.1 * (i + 1))
    runner.on_disconnect()  # the link is lost mid-message
    assert _counts(db_factory) == (0, {"incomplete": 2})
    with db_factory() as s:
        listed = list_events(s, "GC-T")
    assert listed is not None and [e["kind"] for e in listed["events"]] == ["run_incomplete"]
    assert "ASTM session cut (link lost during the session): 2 accepted frame(s)" in listed["events"][0]["detail"]
