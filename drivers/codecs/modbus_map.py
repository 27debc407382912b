"""Modbus register maps declared in a profile's ``[modbus]`` section, decoded from register lists.

Bytes inside a register are big-endian (Modbus Application Protocol v1.1b3 §4.2); the order of 16-bit words
in 32-bit values varies by vendor: ABCD (high word first), CDAB (low word first), BADC and DCBA (bytes
swapped inside each word). ABCD/CDAB go through pymodbus ``convert_from_registers(..., word_order=...)``;
BADC/DCBA swap the bytes of each register first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pymodbus.client.mixin import ModbusClientMixin

from drivers.errors import FieldError
from drivers.profiles import Profile
from drivers.profiles._dialects import ModbusDialect, ModbusWorklist, RegisterSpec

_DT = ModbusClientMixin.DATATYPE
_TYPES = {"uint16": _DT.UINT16, "int16": _DT.INT16, "uint32": _DT.UINT32, "int32": _DT.INT32,
          "float32": _DT.FLOAT32}


@dataclass(frozen=True)
class RegisterValue:
    name: str
    value: Any
    unit: str | None


def _dialect(profile: Profile) -> ModbusDialect:
    if profile.modbus is None:
        raise ValueError(f"profile {profile.name!r} is not a Modbus register map")
    dialect: ModbusDialect = profile.modbus
    return dialect


def _swap_bytes(registers: Sequence[int]) -> list[int]:
    return [((r & 0xFF) << 8) | (r >> 8) for r in registers]


def decode_register(spec: RegisterSpec, registers: Sequence[int], word_order: str = "ABCD") -> Any:
    """Decode one map entry from exactly ``spec.count`` registers (scale applied to numbers; bits → dict)."""
    if len(registers) != spec.count:
        raise FieldError(f"{len(registers)} registers for {spec.type}, expected {spec.count}", field=spec.name)
    if any(not 0 <= r <= 0xFFFF for r in registers):
        raise FieldError("register value outside 0..65535", field=spec.name)
    if spec.type == "string":
        raw = b"".join(r.to_bytes(2, "big") for r in registers)
        try:
            return raw.rstrip(b"\x00").decode("ascii")
        except UnicodeDecodeError as exc:
            raise FieldError(f"non-ASCII byte at {exc.start}", field=spec.name) from None
    if spec.type == "bits":
        return {name: bool(registers[0] >> bit & 1) for name, bit in spec.bits}
    regs = list(registers)
    if word_order in ("BADC", "DCBA"):
        regs = _swap_bytes(regs)
    order: Literal["big", "little"] = "little" if word_order in ("CDAB", "DCBA") else "big"
    value = ModbusClientMixin.convert_from_registers(regs, _TYPES[spec.type], word_order=order)
    if not isinstance(value, int | float):  # the numeric types in _TYPES decode to one number
        raise FieldError(f"{spec.type} decoded to {type(value).__name__}, not a number", field=spec.name)
    return value * spec.scale if spec.scale != 1.0 else value


def decode_block(profile: Profile, table: str, start: int, registers: Sequence[int]) -> dict[str, RegisterValue]:
    """Every map entry of ``table`` (``holding``/``input``) lying inside a block read from ``start``."""
    d = _dialect(profile)
    out = {}
    for spec in d.registers.values():
        if spec.table != table or spec.address < start or spec.address + spec.count > start + len(registers):
            continue
        i = spec.address - start
        out[spec.name] = RegisterValue(spec.name, decode_register(spec, registers[i:i + spec.count], d.word_order),
                                       spec.unit)
    return out


def encode_string(text: str, count: int) -> list[int]:
    """ASCII text into ``count`` registers, first char in the high byte, NUL padded."""
    raw = text.encode("ascii")
    if len(raw) > 2 * count:
        raise ValueError(f"{text!r} longer than {2 * count} characters")
    raw = raw.ljust(2 * count, b"\x00")
    return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]


def block_span(profile: Profile, table: str) -> tuple[int, int]:
    """(start, count) covering every entry of ``table`` — one read for a poll."""
    specs = [s for s in _dialect(profile).registers.values() if s.table == table]
    if not specs:
        raise ValueError(f"profile {profile.name!r} maps no {table} registers")
    start = min(s.address for s in specs)
    return start, max(s.address + s.count for s in specs) - start


def ascii_registers(text: str, count: int, *, field: str = "sample_id") -> list[int]:
    """``text`` as ``count`` registers (:func:`encode_string`); :class:`FieldError` naming ``field`` if it is
    not printable ASCII or longer than ``2 * count`` characters."""
    if len(text) > 2 * count:
        raise FieldError(f"{text!r} is longer than {2 * count} characters", field=field)
    if not text.isascii() or not text.isprintable():
        raise FieldError(f"{text!r} is not printable ASCII", field=field)
    return encode_string(text, count)


def worklist_writes(spec: ModbusWorklist, sample_ids: Sequence[str]) -> list[tuple[int, list[int]]]:
    """The holding-register writes that load ``sample_ids`` into a device's worklist (``[modbus.worklist]``):
    the count set to 0 first (the device never sees a half-written list as whole), then each position's ID,
    then the count. :class:`FieldError` for more IDs than positions or an ID that does not fit."""
    if len(sample_ids) > spec.positions:
        raise FieldError(f"{len(sample_ids)} sample IDs, the device takes {spec.positions}", field="worklist")
    writes = [(spec.count_register, [0])]
    for i, sample in enumerate(sample_ids):
        writes.append((spec.first_register + i * spec.id_registers,
                       ascii_registers(sample, spec.id_registers, field=f"worklist position {i + 1}")))
    writes.append((spec.count_register, [len(sample_ids)]))
    return writes
