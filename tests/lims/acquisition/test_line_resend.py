"""Duplicate resends on an ACK/NAK line link (colloidal-gold reader, PROTOCOLS.md (c)): the reader resends a
record it got no reply to within its timeout, and its ACK names no record. A record identical to the one
last ACKed that comes back soon after is stored (never dropped), marked ``duplicate`` with a note, counted in
``duplicate_resends`` and logged — and not ACKed a second time when our one late ACK already answers it.
Driven sans-I/O through a recording link; records from the simulator's own encoder (hardware_sim.gold).
ASTM (e): a repeated frame number is ACKed and discarded by the link (E1381) and counted the same way."""

from __future__ import annotations

from datetime import datetime

from hardware_sim.astm import AstmMessage, AstmResult, message_frames, message_records
from hardware_sim.gold import GoldStrip, record_line
from sqlalchemy import select

from lims.acquisition.dialects.line import char_time_s
from lims.db.models import Instrument, RawCapture, Reading

ACK, NAK = b"ACK\r\n", b"NAK\r\n"
WHEN = datetime(2025, 3, 14, 9, 30, 5)
R1 = record_line(1, WHEN, GoldStrip(1, "S2025031401", "CLEN", 1520, 3210))
R2 = record_line(2, WHEN, GoldStrip(2, "S2025031402", "CLEN", 2900, 3210))


def _captures(db_factory) -> list[tuple[bytes, str, str]]:
    with db_factory() as s:
        rows = s.execute(select(RawCapture.data, RawCapture.parse_status, RawCapture.error).order_by(RawCapture.id))
        return [tuple(r) for r in rows.all()]


def _resends_in_status(db_factory, runner) -> int:  # type: ignore[no-untyped-def]
    runner.status.flush(force=True)
    with db_factory() as s:
        return s.execute(select(Instrument.duplicate_resends)).scalar_one()


def _readings(db_factory) -> int:
    with db_factory() as s:
        return len(s.execute(select(Reading.id)).all())


def test_resend_read_with_the_original_is_answered_by_its_one_ack(db_factory, caplog, make_runner, recording_link):
    runner = make_runner("CG-R", "colloidal_gold_8lane", recording_link())
    try:
        runner.on_bytes(R1 + R1, 10.0)  # the host was slow: the reader's resend is already there
        assert runner.link.writes == [ACK]  # one ACK: the reader takes it for its resend
        caps = _captures(db_factory)
        assert [(d, st) for d, st, _ in caps] == [(R1, "parsed"), (R1, "duplicate")]
        assert "duplicate resend" in caps[1][2] and "before our ACK of it was sent" in caps[1][2]
        assert _readings(db_factory) == 1
        assert (runner.stats.duplicates, runner.stats.duplicate_resends) == (1, 1)
        assert _resends_in_status(db_factory, runner) == 1
        assert any("duplicate resend" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    finally:
        runner.close()


def test_resend_soon_after_the_ack_window_and_line_time_decide(db_factory, make_runner, recording_link):
    runner = make_runner("CG-W", "colloidal_gold_8lane", recording_link())
    line_s = len(R1) * char_time_s(runner.profile, {})  # 19200 baud 8O1: 11 bits a character
    try:
        runner.on_bytes(R1, 10.0)
        acked_at = runner.acked.at
        # complete sooner after our ACK than the line takes to send it: it left before the ACK arrived
        runner.on_bytes(R1, acked_at + line_s / 2)
        assert runner.link.writes == [ACK]
        # later, inside the window: our ACK was lost (or later still): ACK again, still a resend
        runner.on_bytes(R1, acked_at + 1.0)
        assert runner.link.writes == [ACK, ACK]
        # beyond the window (default 5 s) after the latest ACK: a plain duplicate (ACKed), not a resend
        runner.on_bytes(R1, runner.acked.at + 6.0)
        assert runner.link.writes == [ACK, ACK, ACK]
        # another record in between: the old one coming back is a plain duplicate
        runner.on_bytes(R2, runner.acked.at + 0.01)
        runner.on_bytes(R1, runner.acked.at + 0.01)
        assert runner.link.writes == [ACK] * 5
        statuses = [(d, st, "duplicate resend" in e) for d, st, e in _captures(db_factory)]
        assert statuses == [(R1, "parsed", False), (R1, "duplicate", True), (R1, "duplicate", True),
                            (R1, "duplicate", False), (R2, "parsed", False), (R1, "duplicate", False)]
        assert _readings(db_factory) == 2
        assert runner.stats.duplicate_resends == 2 and _resends_in_status(db_factory, runner) == 2
    finally:
        runner.close()


def test_damaged_resend_is_naked_and_not_a_resend(db_factory, make_runner, recording_link):
    runner = make_runner("CG-N", "colloidal_gold_8lane", recording_link())
    bad = R1[:-4] + b"00\r\n" if not R1.endswith(b"00\r\n") else R1[:-4] + b"01\r\n"
    try:
        runner.on_bytes(R1, 10.0)
        runner.on_bytes(bad, runner.acked.at + 0.01)
        assert runner.link.writes == [ACK, NAK] and runner.stats.duplicate_resends == 0
    finally:
        runner.close()


def test_astm_repeated_frame_is_acked_once_more_and_counted_as_a_resend(db_factory, make_runner, recording_link):
    frames = message_frames(message_records(AstmMessage("S-9", (AstmResult("CHLORPYRIFOS", "0.1"),))))
    runner = make_runner("GC-R", "astm_gc_datasystem", recording_link())
    try:
        runner.on_bytes(b"\x05", 0.0)
        runner.on_bytes(frames[0], 0.1)
        runner.on_bytes(frames[0], 15.2)  # the sender saw no ACK within its 15 s: same FN, same bytes
        assert runner.link.writes == [b"\x06", b"\x06", b"\x06"]  # E1381: ACKed again and discarded
        caps = _captures(db_factory)
        assert [(d, st) for d, st, _ in caps] == [(frames[0], "pending"), (frames[0], "duplicate")]
        assert "retransmission of the last accepted frame" in caps[1][2]
        assert runner.stats.duplicate_resends == 1 and _resends_in_status(db_factory, runner) == 1
    finally:
        runner.close()


def test_astm_retransmission_read_before_our_ack_gets_no_second_ack(db_factory, make_runner, recording_link):
    frames = message_frames(message_records(AstmMessage("S-8", (AstmResult("CHLORPYRIFOS", "0.1"),))))
    runner = make_runner("GC-B", "astm_gc_datasystem", recording_link())
    try:
        runner.on_bytes(b"\x05", 0.0)
        runner.on_bytes(frames[0] + frames[0], 15.2)  # our commit was slow: the retransmission is already here
        assert runner.link.writes == [b"\x06", b"\x06"]  # ENQ's ACK and one ACK for the frame
        caps = _captures(db_factory)
        assert [(d, st) for d, st, _ in caps] == [(frames[0], "pending"), (frames[0], "duplicate")]
        assert "read before our ACK of it was written" in caps[1][2]
        assert (runner.stats.errors, runner.stats.duplicate_resends) == (0, 1)
        runner.on_bytes(frames[1], 15.3)  # the session goes on
        assert runner.link.writes[-1] == b"\x06" and runner.stats.captures == 2
    finally:
        runner.close()


def test_astm_next_frame_read_before_our_ack_is_kept_as_rejected_and_gets_no_reply(db_factory, make_runner, recording_link):
    frames = message_frames(message_records(AstmMessage("S-7", (AstmResult("CHLORPYRIFOS", "0.1"),))))
    runner = make_runner("GC-N", "astm_gc_datasystem", recording_link())
    try:
        runner.on_bytes(b"\x05", 0.0)
        runner.on_bytes(frames[0] + frames[1], 0.1)  # frame 2 before our ACK of 1: not stop-and-wait
        assert runner.link.writes == [b"\x06", b"\x06"]  # ENQ's ACK and frame 1's, nothing for frame 2
        assert [(d, st) for d, st, _ in _captures(db_factory)] == [(frames[0], "pending"), (frames[1], "rejected")]
        assert (runner.stats.errors, runner.stats.duplicate_resends) == (1, 0)
    finally:
        runner.close()


def test_astm_sender_one_reply_ahead_after_a_reacked_resend_message_still_read_once(db_factory, make_runner, recording_link):
    # our late ACK answered the sender's retransmission of frame 1; the retransmission, read after it, is
    # ACKed again and that ACK taken for frame 2: the sender runs one reply ahead, and sends EOT on the
    # reply it takes for its last frame, read with that frame before our ACK of it (LIS01-A2 §8.3, §8.4)
    frames = message_frames(message_records(AstmMessage("S-6", (AstmResult("CHLORPYRIFOS", "0.1"),))))
    runner = make_runner("GC-A", "astm_gc_datasystem", recording_link())
    try:
        runner.on_bytes(b"\x05", 0.0)
        runner.on_bytes(frames[0], 0.1)
        runner.on_bytes(frames[0], 15.2)
        for k, frame in enumerate(frames[1:-1]):
            runner.on_bytes(frame, 15.3 + 0.1 * k)
        runner.on_bytes(frames[-1] + b"\x04", 16.0)
        assert runner.link.writes == [b"\x06"] * (len(frames) + 1)  # no ACK after the sender's EOT
        runner.on_bytes(b"\x05", 16.1)  # the next session is answered, the message is parsed
        runner.after_bytes(b"")
        assert runner.link.writes[-1] == b"\x06" and _readings(db_factory) == 1
        statuses = [st for _, st, _ in _captures(db_factory)]
        assert statuses == ["parsed", "duplicate"] + ["parsed"] * (len(frames) - 1)
        assert (runner.stats.errors, runner.stats.duplicate_resends) == (0, 1)
    finally:
        runner.close()
