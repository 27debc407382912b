"""Modbus register maps (``modbus``): the LIMS polls the input-register block on a fixed schedule; a unit is
a new result in the block (hardware-sim/PROTOCOLS.md (d)), one reading per result."""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from drivers.codecs.modbus_map import RegisterValue, block_span, decode_block, worklist_writes
from drivers.errors import DriverError, FieldError, LinkTimeout, TransportError
from drivers.profiles import Profile
from drivers.transports.modbus import ModbusDeviceError, ModbusLink
from drivers.transports.tcp import ConnectionLost
from lims.acquisition.dialects.base import Dialect, register
from lims.acquisition.ingest import ParseFailure, fail, ingest, parsed
from lims.acquisition.links import open_modbus_link
from lims.acquisition.orders import FAILED, SENT, pending_worklist, settle_worklist
from lims.acquisition.runner import Runner
from lims.acquisition.store import CaptureStore, NewCapture, StatusTracker, sha256_hex
from lims.acquisition.values import new_reading
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import RawCapture, Reading

if TYPE_CHECKING:
    from lims.acquisition.config import InstrumentConfig

log = logging.getLogger("lims.acquire")


def registers_to_bytes(registers: Sequence[int]) -> bytes:
    """Register values as the bytes on the wire (big-endian inside a register, Modbus §4.2)."""
    return struct.pack(f">{len(registers)}H", *registers)


def parse_modbus_capture(s: Session, cap: RawCapture, profile: Profile) -> list[Reading]:
    """One reading from a register block; ``cap.source`` is ``"<table>:<start>"`` (e.g. ``input:0``)."""
    try:
        table, _, start = cap.source.partition(":")
        if len(cap.data) % 2:
            raise ParseFailure(f"register block of {len(cap.data)} bytes is not whole registers")
        regs = list(struct.unpack(f">{len(cap.data) // 2}H", cap.data))
        values = decode_block(profile, table, int(start or 0), regs)
    except (DriverError, ValueError) as exc:
        fail(cap, exc)
        return []
    fields: dict[str, Any] = {}
    sample = None
    for name, rv in values.items():
        fields[name] = rv.value
        if name in ("result_sample_id", "sample_id") and isinstance(rv.value, str):
            sample = rv.value or sample
    counter = fields.get("result_counter")
    reading = new_reading(cap, profile, record_type="result", sample_code=sample,
                          run_no="" if counter is None else str(counter), fields=fields,
                          read_at=cap.received_at or utcnow())
    s.add(reading)
    parsed(cap)
    s.flush()
    return [reading]


def result_ready(values: dict[str, RegisterValue]) -> bool:
    """False while the block shows no result: ``result_counter`` is 0 or ``status.result_available`` is
    clear (a map without a counter always counts as ready; a new result is then any change)."""
    counter = values.get("result_counter")
    flags = values.get("status")
    available = True
    if flags is not None and isinstance(flags.value, dict) and "result_available" in flags.value:
        available = bool(flags.value["result_available"])
    return counter is None or (available and counter.value != 0)


class ModbusRunner(Runner):
    """Polls the input-register block of a Modbus profile every ``poll_interval_s`` on a fixed schedule.
    A new result (``result_counter`` changed while ``result_available`` is set, or — without those
    registers — any change outside status bits) is committed as a register-block capture, then parsed.
    A poll that fails (timeout, CRC error, exception response) or starts later than one interval after
    its slot counts as missed.

    Worklist download (issue 13): a profile with ``[modbus.worklist]`` gets the sample IDs of the oldest
    pending worklist (:mod:`lims.acquisition.orders`) written into its holding registers
    (:func:`drivers.codecs.modbus_map.worklist_writes`), checked at most once a second between polls;
    marked ``sent`` once every write was answered, ``failed`` when the device refuses a write (exception
    response) or an ID does not fit; a timeout leaves it pending (tried again)."""

    def __init__(self, cfg: InstrumentConfig, link: ModbusLink, store: CaptureStore, status: StatusTracker,
                 stop: threading.Event) -> None:
        super().__init__(cfg.code, store, status, stop)
        self.cfg = cfg
        self.profile = cfg.profile
        self.link = link
        self.start, self.span = block_span(self.profile, "input")
        self.last_unit: str | None = None
        self.first_slot: float | None = None
        assert self.profile.modbus is not None
        self.registers = regs = self.profile.modbus.registers
        self.status_names = {n for n, r in regs.items() if r.table == "input" and r.type == "bits"}
        self.next_download = 0.0

    def run(self) -> None:
        interval = self.cfg.poll_interval_s
        while not self.stop.is_set():
            if not self.link.connect(self.stop):
                return
            self.status.connected(True)
            due = time.monotonic()
            try:
                while not self.stop.is_set():
                    now = time.monotonic()
                    if now < due:
                        self.stop.wait(due - now)
                        continue
                    if now - due > interval:
                        skipped = int((now - due) // interval)
                        self.stats.missed_polls += skipped
                        due += skipped * interval
                    self._poll(due)
                    self._download(time.monotonic())
                    self.status.flush()
                    due += interval
            except ConnectionLost as exc:
                log.warning("%s: %s", self.code, exc)
                self.stats.reconnects += 1
                self.status.error()
            finally:
                self.status.connected(False)
                self.link.close()

    def _poll(self, due: float) -> None:
        """One poll in the slot ``due``: read the block; store and parse a new result."""
        regs = self._read(due)
        if regs is None:
            return
        try:
            values = decode_block(self.profile, "input", self.start, regs)
        except DriverError:
            values = {}
        if not result_ready(values):
            return
        unit = self._unit(regs)
        if unit == self.last_unit:
            return
        self.last_unit = unit
        cap_id = self.store.add_one(NewCapture(registers_to_bytes(regs), source=f"input:{self.start}",
                                               unit_sha256=unit))
        self.stats.captures += 1
        self.status.message()
        with session_scope(self.factory, actor=self.store.actor) as s:
            cap = s.get(RawCapture, cap_id)
            assert cap is not None
            self.count(ingest(s, cap, DIALECT, self.profile))

    def _read(self, due: float) -> list[int] | None:
        """The block's registers, or None for a failed poll (counted; a lost link raises)."""
        if self.first_slot is None:
            self.first_slot = due
        self.stats.polling_s = due - self.first_slot
        self.stats.polls += 1
        try:
            regs = self.link.read_input_registers(self.start, self.span)
        except (LinkTimeout, TransportError) as exc:
            if isinstance(exc, ConnectionLost):
                raise
            self.stats.failed_polls += 1
            self.stats.missed_polls += 1
            self.status.error()
            log.info("%s: poll failed: %s", self.code, exc)
            return None
        self.status.heard()
        latency = time.monotonic() - due
        self.stats.max_poll_latency_s = max(self.stats.max_poll_latency_s, latency)
        return regs

    def _download(self, now: float) -> None:
        """Write the oldest pending worklist's sample IDs into the device (class docstring)."""
        assert self.profile.modbus is not None
        spec = self.profile.modbus.worklist
        if spec is None or now < self.next_download:
            return
        self.next_download = now + max(1.0, self.cfg.poll_interval_s)
        with session_scope(self.factory, actor=self.store.actor) as s:
            row = pending_worklist(s, self.store.instrument_id)
            if row is None:
                return
            worklist_id, ids = row.id, [str(e["sample_code"]) for e in row.entries]
        try:
            for address, values in worklist_writes(spec, ids):
                self.link.write_registers(address, values)
        except (FieldError, ModbusDeviceError) as exc:
            self._settle(worklist_id, FAILED, f"not loaded: {exc}")
            return
        except LinkTimeout as exc:
            log.info("%s: worklist %d not written yet: %s", self.code, worklist_id, exc)
            return
        self._settle(worklist_id, SENT, f"{len(ids)} sample ID(s) written to holding registers "
                                        f"{spec.first_register}+ (count in {spec.count_register})")

    def _settle(self, worklist_id: int, status: str, detail: str) -> None:
        with session_scope(self.factory, actor=self.store.actor, reason="worklist download") as s:
            settle_worklist(s, worklist_id, status, detail)
        self.stats.extra[f"worklists_{status}"] = self.stats.extra.get(f"worklists_{status}", 0) + 1
        log.info("%s: worklist %d %s: %s", self.code, worklist_id, status, detail)

    def _unit(self, regs: list[int]) -> str:
        """Identity of the result in a block: every register except status bits (which change while the
        same result stays on display)."""
        skipped = [self.registers[name] for name in self.status_names]
        error = self.registers.get("error")
        if error is not None and error.table == "input":
            skipped.append(error)
        skip = {i for spec in skipped for i in range(spec.address - self.start, spec.address - self.start + spec.count)}
        kept = [r for i, r in enumerate(regs) if i not in skip]
        return sha256_hex(registers_to_bytes(kept))

    def close(self) -> None:
        self.link.close()
        super().close()


class ModbusBlocks(Dialect):
    """``modbus``: a unit is a result's register block without its status bits (set when it is stored)."""

    kind = "modbus"
    runner_class = ModbusRunner
    link = "modbus"

    def open_link(self, cfg: InstrumentConfig) -> ModbusLink:
        return open_modbus_link(cfg)

    def parse(self, s: Session, cap: RawCapture, profile: Profile | None) -> list[Reading]:
        assert profile is not None
        return parse_modbus_capture(s, cap, profile)


DIALECT = register(ModbusBlocks())
