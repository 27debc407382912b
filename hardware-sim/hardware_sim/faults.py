"""Fault injection shared by every simulator.

A :class:`Faults` value says *what* goes wrong; a :class:`FaultInjector` (one per simulator run,
seeded) decides *where*, reproducibly: the same seed and the same bytes give the same damage.
Everything the injector does is recorded as :class:`SimEvent` rows so a test can account for it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Faults:
    """What goes wrong on the link. All rates are probabilities in [0, 1]; 0 / None disables.

    - ``bit_error_rate``: per-bit error probability (BER). Each byte is hit with probability
      1 − (1 − BER)⁸ and then has one random bit flipped (multi-bit hits are not modelled).
      1 % corrupted bytes ≈ BER 0.00126.
    - ``drop_byte_rate``: per-byte probability that the byte is lost.
    - ``truncate_frame_rate``: per-frame (per-line) probability that the frame is cut at a random
      point; the rest of that frame is never sent (the next frame follows).
    - ``disconnect_after_bytes``: the link drops once after this many bytes (TCP: the socket is
      closed; pty: the device falls silent for ``reconnect_delay_s``); the interrupted message is
      then sent again from its start.
    - ``nak_storm``: receiver role (ASTM receiver simulator): every frame and ENQ is NAKed this many
      times before it is ACKed (≥ 6 makes a correct sender abort).
    - ``slow_byte_delay_s``: pause after every byte written.
    - ``wrong_frame_numbers``: per-frame probability (ASTM) that the first transmission carries a
      wrong frame number (the checksum is computed over the wrong number, so only the number is bad).
    - ``garbage_between_sessions``: number of random bytes sent on the idle line before each
      session/message (never containing the protocol's start bytes).
    - ``reboot_after_messages``: the device reboots once after this many messages (lines for the
      line-oriented devices): it sends its boot banner and starts the interrupted run again.
    - ``malformed_lines``: indexes (0-based, in output order) of lines/records emitted corrupted
      (a bad checksum or a non-numeric field, chosen by the seeded RNG).
    - ``seed``: seeds the injector's RNG (the simulator's own seed is used when None).
    """

    bit_error_rate: float = 0.0
    drop_byte_rate: float = 0.0
    truncate_frame_rate: float = 0.0
    disconnect_after_bytes: int | None = None
    nak_storm: int = 0
    slow_byte_delay_s: float = 0.0
    wrong_frame_numbers: float = 0.0
    garbage_between_sessions: int = 0
    reboot_after_messages: int | None = None
    malformed_lines: tuple[int, ...] = ()
    reconnect_delay_s: float = 0.2
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("bit_error_rate", "drop_byte_rate", "truncate_frame_rate", "wrong_frame_numbers"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be within [0, 1], got {value!r}")
        for name in ("nak_storm", "garbage_between_sessions"):
            if getattr(self, name) < 0:
                raise ValueError(f"Faults.{name} must be ≥ 0")
        for name in ("disconnect_after_bytes", "reboot_after_messages"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"Faults.{name} must be ≥ 1 or None, got {value!r}")
        if self.slow_byte_delay_s < 0 or self.reconnect_delay_s < 0:
            raise ValueError("Faults delays must be ≥ 0")

    @property
    def any_byte_damage(self) -> bool:
        return self.bit_error_rate > 0 or self.drop_byte_rate > 0


NO_FAULTS = Faults()


@dataclass(frozen=True)
class SimEvent:
    """One thing a simulator did: ``kind`` (e.g. ``sent``, ``ack``, ``malformed``), a detail text."""

    kind: str
    detail: str = ""
    index: int | None = None


@dataclass
class FaultInjector:
    """Applies :class:`Faults` to outgoing bytes with a seeded RNG and records what it did."""

    faults: Faults
    seed: int
    events: list[SimEvent] = field(default_factory=list)
    bytes_out: int = 0
    _disconnected: bool = False

    def __post_init__(self) -> None:
        self.rng = random.Random(self.faults.seed if self.faults.seed is not None else self.seed)
        ber = self.faults.bit_error_rate
        self._byte_hit = 1.0 - (1.0 - ber) ** 8

    def damage(self, data: bytes, *, frame_index: int | None = None) -> bytes:
        """Return ``data`` after truncation, dropped bytes and bit errors (records each one)."""
        f = self.faults
        out = bytearray(data)
        if f.truncate_frame_rate and out and self.rng.random() < f.truncate_frame_rate:
            cut = self.rng.randrange(0, len(out))
            self.events.append(SimEvent("truncated", f"cut at byte {cut} of {len(out)}", frame_index))
            del out[cut:]
        if not f.any_byte_damage:
            return bytes(out)
        result = bytearray()
        for offset, byte in enumerate(out):
            if f.drop_byte_rate and self.rng.random() < f.drop_byte_rate:
                self.events.append(SimEvent("dropped", f"byte {offset} (0x{byte:02X})", frame_index))
                continue
            if self._byte_hit and self.rng.random() < self._byte_hit:
                bit = self.rng.randrange(8)
                self.events.append(SimEvent("bit_error", f"byte {offset} bit {bit}", frame_index))
                byte ^= 1 << bit
            result.append(byte)
        return bytes(result)

    def split_for_disconnect(self, data: bytes) -> tuple[bytes, bool]:
        """Cut ``data`` where the one-time disconnect falls; True when the link drops after it."""
        limit = self.faults.disconnect_after_bytes
        if limit is None or self._disconnected:
            self.bytes_out += len(data)
            return data, False
        room = limit - self.bytes_out
        if room >= len(data):
            self.bytes_out += len(data)
            return data, False
        self._disconnected = True
        head = data[: max(room, 0)]
        self.bytes_out += len(head)
        self.events.append(SimEvent("disconnect", f"after {self.bytes_out} bytes"))
        return head, True

    def garbage(self, exclude: bytes) -> bytes:
        """Random idle-line noise of the configured length, avoiding the bytes in ``exclude``."""
        n = self.faults.garbage_between_sessions
        if not n:
            return b""
        allowed = [b for b in range(256) if b not in exclude]
        noise = bytes(self.rng.choice(allowed) for _ in range(n))
        self.events.append(SimEvent("garbage", noise.hex()))
        return noise
