"""`lims acquire` runners against the hardware simulators (hardware-sim/PROTOCOLS.md) over real ptys, TCP
and Modbus, with faults on. Truth comes from the simulators' own records of what they sent and what the
host acknowledged, never from the code under test."""

from __future__ import annotations

import struct
import time

from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
from hardware_sim.binary_tester import BinaryTesterSim
from hardware_sim.enzyme import EnzymeTesterSim, SimSample
from hardware_sim.faults import Faults
from hardware_sim.gold import GoldReaderSim, GoldStrip
from hardware_sim.modbus_analyzer import CMD_START, ModbusAnalyzerSim, PlannedResult, string_to_registers
from sqlalchemy import func, select, text

from lims.acquisition import AcquisitionService, parse_config
from lims.db.models import Instrument, RawCapture, Reading

#: 1 % of bytes corrupted: per-bit error rate p with 1 − (1 − p)^8 = 0.01 (hardware_sim.faults.Faults).
ONE_PERCENT_BYTES = 1 - (1 - 0.01) ** (1 / 8)


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


def _statuses(factory) -> dict[str, int]:
    with factory() as s:
        return dict(s.execute(select(RawCapture.parse_status, func.count()).group_by(RawCapture.parse_status)).all())


# --------------------------------------------------------------------------- (e) ASTM


def _astm_messages(n: int) -> list[AstmMessage]:
    # short records: with 1 % byte corruption a 247-byte frame arrives intact only ~8 % of the time
    return [AstmMessage(f"S{i:03d}", (AstmResult("CHLORPYRIFOS", f"0.{i + 1:03d}", abnormal_flag="H"),
                                      AstmResult("DIMETHOATE", "ND", comment="below LOD & <5|x")))
            for i in range(n)]


def _astm_truth(msgs: list[AstmMessage]) -> list[tuple[str, str, str]]:
    return sorted((m.sample_id, r.analyte_code, r.value) for m in msgs for r in m.results)


def test_astm_over_pty_with_1pct_corruption_every_result_once_none_wrong(db_factory, wait_until):
    msgs = _astm_messages(5)
    sim = AstmSenderSim(msgs, faults=Faults(bit_error_rate=ONE_PERCENT_BYTES, seed=11), reply_timeout_s=3.0,
                        busy_retry_s=0.2)
    service = _service(db_factory, "GC-01", "astm_gc_datasystem", sim.start_pty())
    try:
        assert wait_until(lambda: len(sim.completed) + len(sim.abandoned) == len(msgs), 15)
        assert wait_until(lambda: len(_readings(db_factory)) >= 2 * len(sim.completed), 3)
    finally:
        service.stop()
        sim.stop()
    assert sim.abandoned == [] and sim.naks_received > 0  # corruption happened and was NAKed
    got = sorted((r.sample_code, r.fields["test_code"], r.fields["value"]) for r in _readings(db_factory))
    assert got == _astm_truth(msgs)
    comment = [r for r in _readings(db_factory) if r.fields["test_code"] == "DIMETHOATE"][0].fields["comments"]
    assert comment == ["below LOD & <5|x"]  # escapes resolved
    with db_factory() as s:
        parsed = s.execute(select(RawCapture.data).where(RawCapture.parse_status == "parsed")).scalars().all()
    assert sorted(parsed) == sorted(sim.acked_frames)  # every ACKed frame stored, nothing else parsed


def test_astm_over_tcp_disconnect_mid_message_partial_discarded_resend_stored_once(db_factory, wait_until):
    msgs = _astm_messages(3)
    sim = AstmSenderSim(msgs, faults=Faults(disconnect_after_bytes=150, reconnect_delay_s=0.1),
                        reply_timeout_s=1.0, busy_retry_s=0.2)
    port = sim.start_tcp()
    service = _service(db_factory, "GC-02", "astm_gc_datasystem", f"socket://127.0.0.1:{port}")
    try:
        assert wait_until(lambda: len(sim.completed) == len(msgs), 15)
        assert wait_until(lambda: len(_readings(db_factory)) == 2 * len(msgs), 3)
    finally:
        service.stop()
        sim.stop()
    assert any(e.kind == "disconnect" for e in sim.events)
    got = sorted((r.sample_code, r.fields["test_code"], r.fields["value"]) for r in _readings(db_factory))
    assert got == _astm_truth(msgs)  # the resent message once, the partial one not at all
    assert _statuses(db_factory).get("incomplete", 0) >= 1
    with db_factory() as s:
        inst = s.execute(select(Instrument).where(Instrument.code == "GC-02")).scalar_one()
        assert inst.message_count >= len(sim.acked_frames) and inst.last_message_at is not None


# --------------------------------------------------------------------------- (a) enzyme tester, ASCII lines


def _enzyme_samples() -> list[SimSample]:
    return [SimSample(ch, f"S2026-{ch:03d}", pct) for ch, pct in ((1, 12.0), (2, 55.5), (3, 80.1), (4, 30.0))]


def test_enzyme_lines_with_1pct_corruption_no_wrong_reading_every_byte_kept(db_factory, wait_until):
    # Device (a) streams unsolicited and never resends (PROTOCOLS.md (a)): a damaged line cannot come back,
    # so the check is that no damaged line becomes a reading and every intact line does.
    sim = EnzymeTesterSim(_enzyme_samples(), runs=4, seed=5,
                          faults=Faults(bit_error_rate=ONE_PERCENT_BYTES, seed=5))
    service = _service(db_factory, "EI-01", "enzyme_ascii_16ch", sim.start_pty())
    try:
        assert sim.wait(10)
        assert wait_until(lambda: sum(_statuses(db_factory).values()) >= len(sim.lines) - 2, 5)
        time.sleep(0.3)
    finally:
        service.stop()
        sim.stop()
    clean = set(sim.lines)
    with db_factory() as s:
        caps = s.execute(select(RawCapture).order_by(RawCapture.id)).scalars().all()
        assert b"".join(c.data for c in caps) == b"".join(sim.log)  # every byte kept, in order
        parsed = [c.data for c in caps if c.parse_status == "parsed"]
    assert set(parsed) <= clean  # zero wrong results accepted
    damaged = sum(1 for e in sim.events if e.kind == "bit_error")
    assert damaged > 0
    intact_sent = [line for line in sim.log if line in clean]
    assert sorted(parsed) == sorted(intact_sent)  # every intact line became a reading


def test_enzyme_over_tcp_disconnect_mid_run_resend_stored_once(db_factory, wait_until):
    sim = EnzymeTesterSim(_enzyme_samples(), seed=6, faults=Faults(disconnect_after_bytes=120, reconnect_delay_s=0.1))
    port = sim.start_tcp()
    service = _service(db_factory, "EI-02", "enzyme_ascii_16ch", f"socket://127.0.0.1:{port}")
    try:
        assert sim.wait(10)
        assert wait_until(lambda: len(_readings(db_factory)) == len(sim.lines), 5)
        time.sleep(0.2)
    finally:
        service.stop()
        sim.stop()
    readings = _readings(db_factory)
    assert sorted((r.record_type, r.channel) for r in readings) == sorted(
        [("RUN", None), ("END", None)] + [("CH", ch) for ch in range(5)])
    st = _statuses(db_factory)
    assert st.get("duplicate", 0) >= 1 and st.get("incomplete", 0) + st.get("error", 0) >= 1


# --------------------------------------------------------------------------- (c) colloidal gold, ACK/NAK


def test_gold_reader_with_1pct_corruption_nak_resend_every_acked_record_once(db_factory, wait_until):
    strips = [GoldStrip(lane, f"S{lane:02d}", "CLEN", 1000 + 300 * lane, 3200) for lane in range(1, 9)]
    # The reader's ACK carries no sequence number: if a loaded host answered after the reader's timeout,
    # a late ACK would be taken for the next record. The timeout is kept above any host delay here, so the
    # test is about corruption, not about that protocol weakness.
    sim = GoldReaderSim(strips, seed=2, ack_timeout_s=3.0,
                        faults=Faults(bit_error_rate=ONE_PERCENT_BYTES, seed=2))
    service = _service(db_factory, "CG-01", "colloidal_gold_8lane", sim.start_pty())
    try:
        assert sim.wait(20)
        # readings of ACKed records are committed before the ACK; allow a loaded machine to catch up
        assert wait_until(lambda: len(_readings(db_factory)) >= len(sim.acked), 10)
        time.sleep(0.3)  # and nothing more arrives
    finally:
        service.stop()
        sim.stop()
    readings = _readings(db_factory)
    got = sorted(r.fields["seq"] for r in readings)
    assert got == sorted(int(sim.records[i][4:8]) for i in sim.acked)  # each ACKed record exactly once
    by_seq = {int(rec[4:8]): rec for rec in sim.records}
    for r in readings:  # zero wrong results: every field equals the clean record's
        clean = by_seq[r.fields["seq"]].decode().split(";")
        assert (r.sample_code, r.fields["t_intensity"], r.fields["c_intensity"], r.fields["result"]) == (
            clean[5], int(clean[7]), int(clean[8]), clean[10])
    assert any(e.kind == "nak" for e in sim.events)
    gave_up = [e.index for e in sim.events if e.kind == "gave_up"]
    assert len(sim.acked) + len(gave_up) == len(strips)  # the reader gives up after 3 resends (PROTOCOLS.md c)


class _SlowHost:
    """Makes the host slow for real: holds the database's write lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL
    ``LOCK TABLE raw_capture``), so the host's next capture commit — and the ACK behind it — waits."""

    def __init__(self, engine) -> None:
        self.conn = engine.connect()
        self.trans = self.conn.begin()
        if engine.dialect.name == "postgresql":
            self.conn.execute(text("LOCK TABLE raw_capture IN EXCLUSIVE MODE"))

    def release(self) -> None:
        self.trans.commit()
        self.conn.close()


def test_gold_reader_late_ack_resend_stored_once_and_the_next_record_still_resent(db_engine, db_factory, wait_until):
    # The reader waits 0.8 s for a reply (PROTOCOLS.md (c): 2 s), then resends; its ACK names no record. The
    # host is held up on record 1 until the reader has resent it, so the host's ACK is late and the resend
    # arrives after it. Record 2 is damaged on the wire (bad checksum): the host's NAK must reach the reader
    # as the answer to record 2 — which it would not if the host ACKed the resend too (that ACK would be taken
    # for record 2, and record 2 would never be sent again).
    strips = [GoldStrip(lane, f"L{lane:02d}", "CLEN", 1000 + 300 * lane, 3200) for lane in range(1, 5)]
    sim = GoldReaderSim(strips, ack_timeout_s=0.8, record_delay_s=0.4,
                        faults=Faults(malformed_lines=(2,), seed=1))
    service = _service(db_factory, "CG-L", "colloidal_gold_8lane", sim.start_pty())
    slow = None
    try:
        assert wait_until(lambda: sim.acked == [0], 10)
        slow = _SlowHost(db_engine)  # within the reader's 0.4 s pause before record 1
        assert wait_until(lambda: sum(1 for e in sim.events if e.kind == "record" and e.index == 1) >= 2, 10), \
            "the reader did not resend record 1"
        slow.release()
        slow = None
        assert sim.wait(20)
        assert wait_until(lambda: len(_readings(db_factory)) >= len(strips), 10)
        time.sleep(0.3)  # and nothing more arrives
    finally:
        if slow is not None:
            slow.release()
        service.stop()
        sim.stop()
    kinds = [(e.kind, e.index) for e in sim.events if e.kind in ("malformed", "ack", "nak", "timeout", "gave_up")]
    assert ("timeout", 1) in kinds and ("nak", 2) in kinds and not any(k == "gave_up" for k, _ in kinds)
    assert any(e.kind == "malformed" and e.detail == "bad_checksum" for e in sim.events)
    assert sim.acked == [0, 1, 2, 3]
    readings = _readings(db_factory)
    assert sorted(r.fields["seq"] for r in readings) == [1, 2, 3, 4]  # each record exactly once
    by_seq = {int(rec[4:8]): rec.decode().split(";") for rec in sim.records}
    assert all((r.sample_code, r.fields["t_intensity"]) == (by_seq[r.fields["seq"]][5],
                                                            int(by_seq[r.fields["seq"]][7])) for r in readings)
    with db_factory() as s:
        caps = s.execute(select(RawCapture.parse_status, RawCapture.error).where(
            RawCapture.data == sim.records[1]).order_by(RawCapture.id)).all()
        resends = s.execute(select(Instrument.duplicate_resends).where(Instrument.code == "CG-L")).scalar_one()
    sent = sim.log.count(sim.records[1])
    assert sent >= 2 and len(caps) == sent  # every transmission of record 1 is kept
    assert [st for st, _ in caps] == ["parsed"] + ["duplicate"] * (sent - 1)
    assert all("duplicate resend" in err for _, err in caps[1:])
    assert resends == sent - 1 and service.report()[0].stats["duplicate_resends"] == sent - 1


# --------------------------------------------------------------------------- (b) binary request/response


def test_binary_tester_with_1pct_corruption_rerequests_until_every_run_fetched(db_factory, wait_until):
    samples = [SimSample(ch, f"B{ch}", 10.0 * ch) for ch in (1, 2, 3)]
    sim = BinaryTesterSim(samples, runs=3, seed=4, faults=Faults(bit_error_rate=ONE_PERCENT_BYTES, seed=4))
    service = _service(db_factory, "RT-01", "rapid_binary_16ch", sim.start_pty(), poll_interval_s=0.05)
    try:
        assert wait_until(lambda: len(sim.acked_runs) == 3, 15)
        time.sleep(0.2)
    finally:
        service.stop()
        sim.stop()
    readings = _readings(db_factory)
    assert sorted((int(r.run_no), r.channel) for r in readings) == [(run, ch) for run in (1, 2, 3) for ch in (1, 2, 3)]
    truth = {(k + 1, rd.channel): rd for k, run in enumerate(sim.readings) for rd in run[1:]}
    for r in readings:  # every value bit-exact to what the device packed (float32)
        rd = truth[(int(r.run_no), r.channel)]
        f32 = struct.unpack(">f", struct.pack(">f", rd.inhibition_percent))[0]
        assert r.fields["inhibition_percent"] == f32


# --------------------------------------------------------------------------- (d) Modbus


def _start_measurement(sim: ModbusAnalyzerSim, sample: str) -> None:
    with sim.model.lock:
        sim.model.holding[2:10] = string_to_registers(sample, 8)
        sim.model.command(CMD_START, sim.model.holding[2:10], time.monotonic())


def test_modbus_tcp_polling_reads_each_result_once(db_factory, wait_until):
    sim = ModbusAnalyzerSim([PlannedResult(35.8, 0.12), PlannedResult(72.5, 0.8)], measure_time_s=0.1)
    port = sim.start_tcp()
    service = _service(db_factory, "PH-01", "modbus_photometric", f"modbus-tcp://127.0.0.1:{port}?device_id=1",
                       poll_interval_s=0.05)
    try:
        for sample in ("S-A", "S-B"):
            _start_measurement(sim, sample)
            assert wait_until(lambda s=sample: any(r.sample_code == s for r in _readings(db_factory)), 5)
        time.sleep(0.3)  # more polls of the same result must not add readings
    finally:
        service.stop()
        sim.stop()
    readings = _readings(db_factory)
    assert [(r.sample_code, round(r.fields["inhibition_percent"], 4)) for r in readings] == [
        ("S-A", 35.8), ("S-B", 72.5)]


def test_modbus_rtu_with_1pct_corruption_no_wrong_value(db_factory, wait_until):
    sim = ModbusAnalyzerSim([PlannedResult(35.8, 0.12)], measure_time_s=0.05,
                            faults=Faults(bit_error_rate=ONE_PERCENT_BYTES, seed=9))
    path = sim.start_rtu()
    service = _service(db_factory, "PH-02", "modbus_photometric", f"modbus-rtu://{path}?baud=9600",
                       poll_interval_s=0.05, timeout_s=0.3)
    try:
        _start_measurement(sim, "S-RTU")
        assert wait_until(lambda: len(_readings(db_factory)) == 1, 8)
    finally:
        service.stop()
        sim.stop()
    (r,) = _readings(db_factory)
    assert r.sample_code == "S-RTU"
    assert r.fields["inhibition_percent"] == struct.unpack(">f", struct.pack(">f", 35.8))[0]
    assert r.fields["concentration_mg_kg"] == struct.unpack(">f", struct.pack(">f", 0.12))[0]
