"""Device (a): enzyme-inhibition pesticide residue tester streaming ASCII lines (PROTOCOLS.md (a)).

Serial 9600 8N1; after each run the device sends, unsolicited, CR LF terminated::

    #RUN,<run_no>,<YYYY-MM-DD HH:MM:SS>,<n_channels>*HH
    #CH,<run_no>,<channel 00..16>,<sample_id>,<A0>,<A3>,<inhibition_percent>*HH
    #END,<run_no>,<count of CH lines>*HH

HH = XOR of the bytes after ``#`` up to ``*``. Inhibition % = (ΔA_control − ΔA_sample) /
ΔA_control × 100, ΔA = A3 − A0 at 412 nm (GB/T 5009.199-2003).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from .base import ThreadedSim
from .faults import Faults
from .link import Link

BOOT_BANNER = b"\r\nPRT-16 ENZYME TESTER V2.3 READY\r\n"
MAX_CHANNEL = 16


@dataclass(frozen=True)
class SimSample:
    """One sample channel of a run: which channel, the sample ID printed, the inhibition to report."""

    channel: int
    sample_id: str
    inhibition_percent: float

    def __post_init__(self) -> None:
        if not 1 <= self.channel <= MAX_CHANNEL:
            raise ValueError(f"channel {self.channel} outside 1..{MAX_CHANNEL}")
        if not self.sample_id or not self.sample_id.isascii() or any(c in self.sample_id for c in ",*#\r\n"):
            raise ValueError(f"sample_id {self.sample_id!r} must be non-empty ASCII without , * # CR LF")
        if not -100.0 <= self.inhibition_percent <= 100.0:
            raise ValueError(f"inhibition_percent {self.inhibition_percent} outside -100..100")


@dataclass(frozen=True)
class ChannelReading:
    """What the device printed for one channel (control: channel 0)."""

    channel: int
    sample_id: str
    a0: float
    a3: float
    inhibition_percent: float


def xor_checksum(body: bytes) -> str:
    """Two uppercase hex digits: XOR of every byte of ``body`` (the text between ``#`` and ``*``)."""
    value = 0
    for byte in body:
        value ^= byte
    return f"{value:02X}"


def frame_line(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"#" + raw + b"*" + xor_checksum(raw).encode("ascii") + b"\r\n"


def simulate_readings(samples: list[SimSample], control_delta_a: float, rng: random.Random
                      ) -> list[ChannelReading]:
    """Absorbances the device would print: A0 in 0.30–0.40, A3 = A0 + ΔA, 4 decimals.

    The inhibition printed is computed from the printed (rounded) absorbances, as a device does
    from the values it shows, so a host recomputing it from A0/A3 agrees to 0.05 %.
    """
    c_a0 = round(rng.uniform(0.30, 0.40), 4)
    c_a3 = round(c_a0 + control_delta_a, 4)
    c_delta = c_a3 - c_a0
    readings = [ChannelReading(0, "CONTROL", c_a0, c_a3, 0.0)]
    for s in sorted(samples, key=lambda s: s.channel):
        a0 = round(rng.uniform(0.30, 0.40), 4)
        a3 = round(a0 + c_delta * (1.0 - s.inhibition_percent / 100.0), 4)
        inhibition = round((c_delta - (a3 - a0)) / c_delta * 100.0, 1) + 0.0  # no "-0.0"
        readings.append(ChannelReading(s.channel, s.sample_id, a0, a3, inhibition))
    return readings


def run_lines(run_no: int, when: datetime, readings: list[ChannelReading]) -> list[bytes]:
    """The clean lines of one run, in output order."""
    lines = [frame_line(f"RUN,{run_no},{when:%Y-%m-%d %H:%M:%S},{len(readings) - 1}")]
    for r in readings:
        lines.append(frame_line(
            f"CH,{run_no},{r.channel:02d},{r.sample_id},{r.a0:.4f},{r.a3:.4f},{r.inhibition_percent:.1f}"))
    lines.append(frame_line(f"END,{run_no},{len(readings)}"))
    return lines


def malform(line: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Corrupt one line: either a wrong checksum, or a non-numeric last field with a valid checksum."""
    body = line[1:line.index(b"*")]
    if rng.random() < 0.5:
        good = int(xor_checksum(body), 16)
        bad = good ^ rng.randrange(1, 256)
        return b"#" + body + b"*" + f"{bad:02X}".encode() + b"\r\n", "bad_checksum"
    head, _, last = body.rpartition(b",")
    digit = next(i for i, ch in enumerate(last) if chr(ch).isdigit())
    last = last[:digit] + b"O" + last[digit + 1:]  # letter O for a zero: a typical glitch
    new_body = head + b"," + last
    return frame_line(new_body.decode("ascii")), "non_numeric"


class EnzymeTesterSim(ThreadedSim):
    """Streams one run (or ``runs`` runs, run numbers increasing) of device (a) to the host."""

    def __init__(self, samples: list[SimSample], *, run_no: int = 1, control_delta_a: float = 0.45,
                 seed: int = 0, faults: Faults | None = None, line_delay_s: float = 0.0,
                 runs: int = 1, run_interval_s: float = 0.0, started_at: datetime | None = None) -> None:
        super().__init__(seed=seed, faults=faults)
        if not samples:
            raise ValueError("a run needs at least one sample")
        channels = [s.channel for s in samples]
        if len(set(channels)) != len(channels):
            raise ValueError(f"duplicate channels in {channels}")
        if not 0.0 < control_delta_a < 2.0:
            raise ValueError(f"control_delta_a {control_delta_a} outside (0, 2)")
        self.samples = list(samples)
        self.run_no = run_no
        self.control_delta_a = control_delta_a
        self.line_delay_s = line_delay_s
        self.runs = runs
        self.run_interval_s = run_interval_s
        self.started_at = started_at
        rng = random.Random(seed)
        self.readings: list[list[ChannelReading]] = []
        self.lines: list[bytes] = []
        """The clean lines of every run, in output order (before any fault)."""
        for k in range(runs):
            when = started_at or datetime.now().replace(microsecond=0)
            readings = simulate_readings(self.samples, control_delta_a, rng)
            self.readings.append(readings)
            self.lines.extend(run_lines(run_no + k, when, readings))

    def _serve(self, link: Link) -> None:
        self._wait_host(link)
        per_run = len(self.samples) + 3
        rebooted = False
        self._malformed_done: set[int] = set()
        run = 0
        while run < self.runs:
            first = run * per_run
            ok = self._send_run(link, first, per_run, reboot_allowed=not rebooted)
            if ok == "reboot":
                rebooted = True
                continue  # the same run again, from its #RUN line
            if ok == "disconnect":
                continue
            run += 1
            if run < self.runs:
                self._sleep(self.run_interval_s)

    def _send_run(self, link: Link, first: int, count: int, *, reboot_allowed: bool) -> str:
        f = self.faults
        if f.garbage_between_sessions:
            noise = self.injector.garbage(exclude=b"#\r\n") + b"\r\n"
            self._send(link, noise, damage=False)
        for index in range(first, first + count):
            line = self.lines[index]
            if index in f.malformed_lines and index not in self._malformed_done:
                self._malformed_done.add(index)
                line, how = malform(line, self.injector.rng)
                self._event("malformed", how, index)
            if not self._send(link, line, frame_index=index):
                self._event("restart", "run resent after disconnect", index)
                return "disconnect"
            self._event("line", line.decode("ascii", "replace").rstrip(), index)
            sent_count = len([e for e in self.events if e.kind == "line"])
            if reboot_allowed and f.reboot_after_messages is not None and sent_count == f.reboot_after_messages:
                self._sleep(f.reconnect_delay_s)
                self._send(link, BOOT_BANNER, damage=False)
                self._event("reboot", "boot banner sent; run restarted", index)
                return "reboot"
            self._sleep(self.line_delay_s)
        return "done"
