"""Device (e): ASTM E1381 sender state machine and E1394 records, checked by an independent host."""

from __future__ import annotations

import time

from hardware_sim.astm import AstmMessage, AstmReceiverSim, AstmResult, AstmSenderSim, frame, message_frames
from hardware_sim.faults import Faults

ENQ, ACK, NAK, EOT, STX = b"\x05", b"\x06", b"\x15", b"\x04", b"\x02"


def test_checksum_example_from_lis01():
    # shared/DOMAIN.md (E1381 / LIS01-A2): <STX>1A|B|C|D<CR><ETX>BF<CR><LF>
    assert frame(1, b"A|B|C|D\r", last=True) == b"\x021A|B|C|D\r\x03BF\r\n"


def test_long_record_split_at_240_and_frame_numbers_wrap():
    records = ["H|\\^&", "C|1|I|" + "x" * 500 + "|G"] + [f"R|{n}" for n in range(1, 8)]
    frames = message_frames(records)
    fns = "".join(chr(f[1]) for f in frames)
    assert fns == "12345670123"  # 11 frames; FN = frame number mod 8, first frame 1
    long = frames[1:4]
    assert [len(f) - 7 for f in long] == [240, 240, len("C|1|I|" + "x" * 500 + "|G\r") - 480]
    assert [f[-5] for f in long] == [0x17, 0x17, 0x03]  # ETB, ETB, ETX


class Host:
    """A minimal E1381 receiver; ``policy(frame_bytes, n)`` returns ACK or NAK for the n-th frame seen."""

    def __init__(self, port, policy=None):
        self.port, self.policy = port, policy or (lambda f, n: ACK)
        self.events: list[bytes] = []
        self.frames_seen = 0

    def run(self, sim, limit_s=5.0):
        buf = b""
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            done = sim.wait(0)
            chunk = self.port.read(4096)
            if done and not chunk and not buf:
                break
            buf += chunk
            while buf:
                if buf[:1] == ENQ:
                    self.events.append(ENQ)
                    self.port.write(ACK)
                    buf = buf[1:]
                elif buf[:1] == EOT:
                    self.events.append(EOT)
                    buf = buf[1:]
                elif buf[:1] == STX:
                    end_i = buf.find(b"\n")
                    if end_i < 0:
                        break
                    f, buf = buf[:end_i + 1], buf[end_i + 1:]
                    self.events.append(f)
                    self.port.write(self.policy(f, self.frames_seen))
                    self.frames_seen += 1
                else:
                    self.events.append(buf[:1])
                    buf = buf[1:]


MESSAGES = [
    AstmMessage("S2025031401", (AstmResult("CHLORPYRIFOS", "0.12", abnormal_flag="H", comment="a|b^c&d\\e"),
                                AstmResult("DICHLORVOS", "ND")), operator="Müller"),
    AstmMessage("S2025031402", (AstmResult("CYPERMETHRIN", "0.031"),)),
]


def test_sender_session_over_pty(open_serial):
    sim = AstmSenderSim(MESSAGES, reply_timeout_s=1.0, busy_retry_s=0.05)
    try:
        host = Host(open_serial(sim.start_pty(), baudrate=9600))
        host.run(sim)
    finally:
        sim.stop()
    expected = [ENQ, *sim.frames[0], EOT, ENQ, *sim.frames[1], EOT]
    assert host.events == expected
    assert sim.completed == [0, 1] and sim.acked_frames == sim.frames[0] + sim.frames[1]
    assert sim.acks_received == len(sim.acked_frames) + 2  # + one ACK per ENQ
    texts = [f[2:-5] for f in sim.frames[0]]
    assert texts[0].startswith(b"H|\\^&|||GCSIM^1.0^SN0001|||||||P|E1394-97|")
    assert texts[2] == b"O|1|S2025031401||^^^GB23200.113|R||||||||||||||||||||F\r"
    assert texts[3].startswith(b"R|1|^^^CHLORPYRIFOS|0.12|mg/kg||H||F||M\xfcller||")  # latin-1
    assert texts[4] == b"C|1|I|a&F&b&S&c&E&d&R&e|G\r"
    assert texts[-1] == b"L|1|N\r"


def test_six_naks_abort_with_eot_then_new_session(open_serial):
    sim = AstmSenderSim(MESSAGES[1:], reply_timeout_s=1.0, busy_retry_s=0.05)
    try:
        host = Host(open_serial(sim.start_pty()), policy=lambda f, n: NAK if n < 6 else ACK)
        host.run(sim)
    finally:
        sim.stop()
    first = sim.frames[0][0]
    assert host.events[:8] == [ENQ] + [first] * 6 + [EOT]
    assert host.events[8:] == [ENQ, *sim.frames[0], EOT]
    assert sim.naks_received == 6 and sim.completed == [0]


def test_wrong_frame_numbers_reproducible(open_serial):
    def policy(f, n):
        return ACK if f[1:2] == b"%d" % ((policy.expect) % 8) and _ok(f) else NAK

    runs = []
    for _ in range(2):
        sim = AstmSenderSim(MESSAGES[1:], faults=Faults(wrong_frame_numbers=0.5, seed=11), reply_timeout_s=1.0)
        policy.expect = 1

        def counting(f, n, sim=sim):
            answer = policy(f, n)
            if answer == ACK:
                policy.expect += 1
            return answer

        try:
            Host(open_serial(sim.start_pty()), policy=counting).run(sim)
        finally:
            sim.stop()
        runs.append(sim.log)
        wrong = [e for e in sim.events if e.kind == "wrong_frame_number"]
        assert wrong and sim.completed == [0] and sim.naks_received == len(wrong)
    assert runs[0] == runs[1]


def _ok(f: bytes) -> bool:
    return f"{sum(f[1:-4]) % 256:02X}".encode() == f[-4:-2]


def test_receiver_nak_storm(open_serial):
    sim = AstmReceiverSim(faults=Faults(nak_storm=2))
    try:
        port = open_serial(sim.start_pty())
        replies = []
        for out in [ENQ, ENQ, ENQ, frame(1, b"L|1|N\r", True), frame(1, b"L|1|N\r", True),
                    frame(1, b"L|1|N\r", True), EOT]:
            port.write(out)
            if out != EOT:
                r = b""
                while not r:
                    r = port.read(1)
                replies.append(r)
        time.sleep(0.2)
    finally:
        sim.stop()
    assert replies == [NAK, NAK, ACK, NAK, NAK, ACK]
    assert sim.messages == [b"L|1|N\r"]


def test_disconnect_mid_message_over_tcp_resends_whole_message(open_serial):
    sim = AstmSenderSim(MESSAGES[1:], faults=Faults(disconnect_after_bytes=60, reconnect_delay_s=0.01),
                        reply_timeout_s=1.0)
    try:
        port_no = sim.start_tcp()
        first = Host(open_serial(f"socket://127.0.0.1:{port_no}"))
        try:
            first.run(sim, limit_s=0.5)
        except Exception:  # pyserial raises on the peer's close
            pass
        second = Host(open_serial(f"socket://127.0.0.1:{port_no}"))
        second.run(sim)
    finally:
        sim.stop()
    assert second.events == [ENQ, *sim.frames[0], EOT], (first.events, sim.events)
    assert sim.completed == [0]
    assert any(e.kind == "disconnect" for e in sim.events)


def test_reboot_mid_message_restarts_session(open_serial):
    sim = AstmSenderSim(MESSAGES, faults=Faults(reboot_after_messages=1, reconnect_delay_s=0.01),
                        reply_timeout_s=1.0)
    try:
        host = Host(open_serial(sim.start_pty()))
        host.run(sim)
    finally:
        sim.stop()
    frames1 = sim.frames[1]
    half = len(frames1) // 2
    tail = host.events[len(sim.frames[0]) + 2:]
    assert tail[: 1 + half] == [ENQ, *frames1[:half]]
    assert tail[-(len(frames1) + 2):] == [ENQ, *frames1, EOT]
    assert sim.completed == [0, 1]
