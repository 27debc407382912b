"""ASTM E1381 / CLSI LIS01-A2 low level: frames and the link state machine, as (bytes received, bytes
sent) conversations. The frame example ``<STX>1A|B|C|D<CR><ETX>BF<CR><LF>`` is the checksum example of
DOMAIN.md (sum of '1' … ETX = 0x2BF → "BF"); the timer and retry values are those of LIS01-A2 §8.5/§8.3.4.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs.astm.frames import (
    BadFrame,
    FrameScanner,
    RawFrame,
    build_frame,
    build_frames,
    checksum,
    parse_frame,
)
from drivers.codecs.astm.link import (
    AstmLink,
    DuplicateFrame,
    FrameAccepted,
    FrameRejected,
    MessageAborted,
    MessageDeferred,
    MessageDelivered,
    RecordAssembler,
    SessionEnded,
    SessionStarted,
)
from drivers.errors import ChecksumError, FrameNumberError, FramingError

ENQ, ACK, NAK, EOT = b"\x05", b"\x06", b"\x15", b"\x04"
EXAMPLE = b"\x021A|B|C|D\r\x03BF\r\n"


def test_checksum_example():
    assert checksum(b"1A|B|C|D\r\x03") == b"BF"
    assert build_frame(1, b"A|B|C|D\r", True) == EXAMPLE
    frame = parse_frame(EXAMPLE)
    assert (frame.number, frame.text, frame.final) == (1, b"A|B|C|D\r", True)


@pytest.mark.parametrize("raw, error", [
    (EXAMPLE.replace(b"BF", b"BE"), ChecksumError),
    (EXAMPLE.replace(b"B|C", b"B|D"), ChecksumError),
    (EXAMPLE.replace(b"BF", b"bf"), FramingError),
    (EXAMPLE[:-1] + b"\r", FramingError),
    (b"\x028A|B\r\x03" + checksum(b"8A|B\r\x03") + b"\r\n", FramingError),
])
def test_parse_frame_rejects(raw, error):
    with pytest.raises(error):
        parse_frame(raw, offset=10)


def test_long_record_continues_in_etb_frames():
    record = b"R|1|^^^X|" + b"9" * 500
    frames = build_frames([record, b"L|1|N"])
    assert [f[1:2] for f in frames] == [b"1", b"2", b"3", b"4"]
    assert [parse_frame(f).final for f in frames] == [False, False, True, True]
    assert all(len(f) <= 247 for f in frames)
    assert b"".join(parse_frame(f).text for f in frames[:3]) == record + b"\r"


def test_frame_numbers_wrap_mod_8():
    frames = build_frames([b"R|%d" % i for i in range(10)])
    assert [f[1] - 0x30 for f in frames] == [1, 2, 3, 4, 5, 6, 7, 0, 1, 2]


def test_scanner_tokens_and_split_feeds():
    stream = b"\x05xx" + EXAMPLE + b"\x06\x04"
    scanner = FrameScanner()
    tokens = []
    for i in range(len(stream)):
        tokens += scanner.feed(stream[i:i + 1])
    kinds = [(type(t).__name__, getattr(t, "offset", None)) for t in tokens if not type(t).__name__ == "Noise"]
    assert kinds == [("Control", 0), ("RawFrame", 3), ("Control", 3 + len(EXAMPLE)),
                     ("Control", 4 + len(EXAMPLE))]
    assert [t.raw for t in tokens if isinstance(t, RawFrame)] == [EXAMPLE]


def test_scanner_truncated_frame_then_resync():
    tokens = FrameScanner().feed(EXAMPLE[:6] + EXAMPLE)
    assert isinstance(tokens[0], BadFrame) and tokens[0].offset == 0
    assert isinstance(tokens[1], RawFrame) and tokens[1].raw == EXAMPLE and tokens[1].offset == 6


def converse(link, script, start=0.0):
    """Run (time, bytes received, bytes expected to be sent) steps; return all events."""
    events = []
    for now, received, expected in script:
        now += start
        events += link.feed(received, now) if received else link.tick(now)
        assert link.data_to_send() == expected, f"at t={now} after {received!r}"
    return events


def test_receiver_acks_only_after_application():
    link = AstmLink("computer")
    events = converse(link, [(0, ENQ, ACK), (1, EXAMPLE, b"")])
    assert isinstance(events[0], SessionStarted)
    (accepted,) = [e for e in events if isinstance(e, FrameAccepted)]
    assert accepted.frame.raw == EXAMPLE
    link.ack(1.5)
    assert link.data_to_send() == ACK
    events = converse(link, [(2, EOT, b"")])
    assert isinstance(events[-1], SessionEnded) and link.state == "idle"


def test_receiver_naks_bad_checksum_then_takes_retransmission():
    link = AstmLink("computer")
    events = converse(link, [(0, ENQ, ACK), (1, EXAMPLE.replace(b"BF", b"BE"), NAK), (2, EXAMPLE, b"")])
    rejected = [e for e in events if isinstance(e, FrameRejected)]
    assert len(rejected) == 1 and isinstance(rejected[0].error, ChecksumError)
    assert rejected[0].error.offset == 1 + len(EXAMPLE) - 4
    assert [e.frame.number for e in events if isinstance(e, FrameAccepted)] == [1]


def test_receiver_naks_wrong_frame_number_and_acks_duplicate():
    link = AstmLink("computer")
    frame2 = build_frame(2, b"L|1|N\r", True)
    frame3 = build_frame(3, b"L|1|N\r", True)
    converse(link, [(0, ENQ, ACK), (1, EXAMPLE, b"")])
    link.ack(1)
    link.data_to_send()
    events = converse(link, [(2, frame3, NAK), (3, EXAMPLE, ACK), (4, frame2, b"")])
    assert isinstance(events[0], FrameRejected) and isinstance(events[0].error, FrameNumberError)
    assert isinstance(events[1], DuplicateFrame)
    assert isinstance(events[2], FrameAccepted) and events[2].frame.number == 2


def test_retransmission_read_before_our_ack_is_a_duplicate_answered_by_that_one_ack():
    # the sender gave up waiting for our ACK (slow commit) and resent: LIS01-A2 §8.3, a retransmission
    link = AstmLink("computer")
    frame2 = build_frame(2, b"L|1|N\r", True)
    events = converse(link, [(0, ENQ, ACK), (16, EXAMPLE + EXAMPLE, b"")])
    assert [type(e) for e in events] == [SessionStarted, FrameAccepted, DuplicateFrame]
    assert events[2].before_ack and events[2].frame.raw == EXAMPLE and events[2].frame.offset == 1 + len(EXAMPLE)
    link.ack(16.1)
    assert link.data_to_send() == ACK  # one reply for the pair
    events = converse(link, [(17, frame2, b"")])
    assert [e.frame.number for e in events if isinstance(e, FrameAccepted)] == [2]


def test_retransmission_read_after_our_ack_is_acked_again():
    link = AstmLink("computer")
    converse(link, [(0, ENQ, ACK), (1, EXAMPLE, b"")])
    link.ack(1)
    assert link.data_to_send() == ACK
    (dup,) = converse(link, [(16, EXAMPLE, ACK)])
    assert dup == DuplicateFrame(parse_frame(EXAMPLE, offset=1 + len(EXAMPLE)), before_ack=False)


def test_nak_of_the_frame_awaiting_ack_answers_its_copy_too():
    link = AstmLink("computer")
    events = converse(link, [(0, ENQ, ACK), (16, EXAMPLE + EXAMPLE, b"")])
    assert isinstance(events[-1], DuplicateFrame) and events[-1].before_ack
    link.nak(16.1)  # e.g. it could not be stored
    assert link.data_to_send() == NAK
    events = converse(link, [(17, EXAMPLE, b"")])
    assert [e.frame.number for e in events if isinstance(e, FrameAccepted)] == [1]


@pytest.mark.parametrize("second", [build_frame(2, b"L|1|N\r", True), EXAMPLE.replace(b"BF", b"BE")],
                         ids=["next-frame", "damaged-copy"])
def test_other_frame_before_our_ack_is_rejected_without_reply(second):
    link = AstmLink("computer")
    events = converse(link, [(0, ENQ, ACK), (1, EXAMPLE + second, b"")])
    assert isinstance(events[-1], FrameRejected) and events[-1].raw == second
    assert "before the previous one was acknowledged" in str(events[-1].error)
    link.ack(1)
    assert link.data_to_send() == ACK


def test_sender_one_reply_ahead_after_a_reacked_retransmission():
    # LIS01-A2 §8.3 with a late ACK: the sender took our late ACK for its retransmission and our ACK of
    # that retransmission (read after the late ACK) for frame 2, so it sends frame 3 before our reply to 2
    frames = build_frames([b"H|\\^&", b"R|1|x", b"R|2|y", b"L|1|N"])
    link = AstmLink("computer")
    converse(link, [(0, ENQ, ACK), (1, frames[0], b"")])
    link.ack(15.5)
    assert link.data_to_send() == ACK
    converse(link, [(15.6, frames[0], ACK), (15.7, frames[1], b"")])
    # frame 3 read before our ACK of 2 is refused; frame 4, sent on that ACK, has the wrong number
    (rejected,) = converse(link, [(15.8, frames[2], b"")])
    assert isinstance(rejected, FrameRejected)
    link.ack(15.8)
    assert link.data_to_send() == ACK
    (refused,) = converse(link, [(15.9, frames[3], NAK)])
    assert isinstance(refused.error, FrameNumberError)


def test_eot_read_before_our_ack_ends_the_session_and_the_ack_sends_nothing():
    # a sender one reply ahead ends the message without waiting for our ACK of its last frame
    frames = build_frames([b"H|\\^&", b"L|1|N"])
    link = AstmLink("computer")
    converse(link, [(0, ENQ, ACK), (1, frames[0], b"")])
    link.ack(1)
    link.data_to_send()
    events = converse(link, [(2, frames[1] + EOT + ENQ, ACK)])  # and the next session's ENQ
    assert [type(e) for e in events] == [FrameAccepted, SessionEnded, SessionStarted]
    link.ack(2.1)  # the frame is stored: nothing is sent on the new session's line
    assert link.data_to_send() == b"" and link.state == "receiving"
    events = converse(link, [(3, frames[0], b"")])
    link.ack(3)
    assert link.data_to_send() == ACK
    with pytest.raises(RuntimeError):
        link.ack(3.1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 9)), min_size=1, max_size=9))
def test_each_frame_delivered_once_and_one_reply_per_frame_read_not_per_copy(plan):
    """A stop-and-wait sender (§8.3) resends frame k ``before`` times ahead of our ACK (read with it) and
    ``after`` times once it is ACKed; the frame's own bytes arrive split at ``cut``."""
    frames = build_frames([b"R|%d" % i for i in range(len(plan))])
    reads = [ENQ]
    for frame, (before, after, cut) in zip(frames, plan, strict=True):
        reads += [frame[:cut], frame[cut:] + frame * before] + [frame] * after
    link, delivered, dups, out = AstmLink("computer"), [], [], b""
    for data in reads:
        for event in link.feed(data, 1.0):
            if isinstance(event, FrameAccepted):
                delivered.append(event.frame.raw)
                link.ack(1.0)
            elif isinstance(event, DuplicateFrame):
                dups.append(event.before_ack)
            else:
                assert isinstance(event, SessionStarted)
        out += link.data_to_send()
    assert delivered == frames
    assert (dups.count(True), dups.count(False)) == (sum(p[0] for p in plan), sum(p[1] for p in plan))
    assert out == ACK * (1 + len(frames) + dups.count(False))


def test_receiver_busy_and_timeout():
    link = AstmLink("computer")
    link.busy = True
    converse(link, [(0, ENQ, NAK)])
    link.busy = False
    converse(link, [(10, ENQ, ACK)])
    assert link.tick(39.9) == []
    (ended,) = link.tick(40.0)
    assert ended == SessionEnded(None, timed_out=True)


def test_receiver_interrupt_replies_eot():
    link = AstmLink("computer")
    converse(link, [(0, ENQ, ACK), (1, EXAMPLE, b"")])
    link.ack(1, interrupt=True)
    assert link.data_to_send() == EOT


def test_sender_message_delivered():
    link = AstmLink("instrument")
    frames = build_frames([b"H|\\^&", b"L|1|N"])
    link.send([b"H|\\^&", b"L|1|N"], 0)
    assert link.data_to_send() == ENQ
    events = converse(link, [(1, ACK, frames[0]), (2, ACK, frames[1]), (3, ACK, EOT)])
    assert events == [MessageDelivered(1)]


def test_sender_aborts_after_six_attempts():
    link = AstmLink("instrument")
    link.send([b"A|B|C|D"], 0)
    link.data_to_send()
    script = [(1, ACK, EXAMPLE)] + [(1 + i, NAK, EXAMPLE) for i in range(1, 6)] + [(7, NAK, EOT)]
    events = converse(link, script)
    assert events == [MessageAborted(1, "frame 1 refused 6 times")]


def test_sender_other_reply_counts_as_nak():
    link = AstmLink("instrument")
    link.send([b"A|B|C|D"], 0)
    link.data_to_send()
    converse(link, [(1, ACK, EXAMPLE), (2, b"?", EXAMPLE), (3, ACK, EOT)])


def test_sender_timers():
    link = AstmLink("instrument")
    link.send([b"A|B|C|D"], 0)
    assert link.data_to_send() == ENQ
    assert link.tick(14.9) == [] and link.data_to_send() == b""
    assert link.tick(15.0) == [MessageAborted(1, "no reply to ENQ within 15 s")]
    assert link.data_to_send() == EOT
    link.send([b"A|B|C|D"], 20)
    converse(link, [(20, b"", ENQ), (21, ACK, EXAMPLE)])
    (aborted,) = link.tick(36.0)
    assert isinstance(aborted, MessageAborted) and link.data_to_send() == EOT


def test_sender_busy_receiver_retries_after_10_s():
    link = AstmLink("instrument")
    link.send([b"A|B|C|D"], 0)
    link.data_to_send()
    events = converse(link, [(1, NAK, b""), (10.9, b"", b""), (11, b"", ENQ), (12, ACK, EXAMPLE)])
    assert events == [MessageDeferred(1, "receiver busy (NAK to ENQ)", 11.0)]


@pytest.mark.parametrize("role, delay, reason", [("instrument", 1.0, "line contention (instrument retries)"),
                                                 ("computer", 20.0, "line contention (computer yields)")])
def test_contention_instrument_wins(role, delay, reason):
    link = AstmLink(role)
    link.send([b"A|B|C|D"], 0)
    assert link.data_to_send() == ENQ
    events = converse(link, [(0.5, ENQ, b"")])
    assert events == [MessageDeferred(1, reason, 0.5 + delay)]
    if role == "computer":  # the instrument's next ENQ is answered
        converse(link, [(1.5, ENQ, ACK)])
    else:
        converse(link, [(1.5, b"", ENQ)])


def test_sender_receiver_interrupt_defers_15_s():
    link = AstmLink("instrument")
    records = [b"H|\\^&", b"L|1|N"]
    frames = build_frames(records)
    link.send(records, 0)
    link.data_to_send()
    events = converse(link, [(1, ACK, frames[0]), (2, EOT, EOT), (16.9, b"", b""), (17, b"", ENQ)])
    assert events == [MessageDeferred(1, "receiver interrupt (EOT)", 17.0)]


def test_two_links_transfer_multi_frame_message():
    instrument, computer = AstmLink("instrument"), AstmLink("computer")
    records = [b"H|\\^&|||GC-2030", b"O|1|S1||^^^OP", b"R|1|^^^chlorpyrifos|" + b"1" * 600 + b"|mg/kg", b"L|1|N"]
    instrument.send(records, 0)
    assembler, got, now = RecordAssembler(), [], 0.0
    for _ in range(100):
        now += 0.01
        for event in computer.feed(instrument.data_to_send(), now):
            if isinstance(event, FrameAccepted):
                got += assembler.add(event.frame)
                computer.ack(now)
        delivered = [e for e in instrument.feed(computer.data_to_send(), now) if isinstance(e, MessageDelivered)]
        if delivered:
            break
    assert delivered == [MessageDelivered(1)]
    assert [r.fields for r in got][2][3] == "1" * 600
    assert [r.type for r in got] == ["H", "O", "R", "L"]
