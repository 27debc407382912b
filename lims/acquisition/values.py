"""Values as devices send them: every reading's numbers checked before they are stored.

A device may send a float32 NaN or ±Inf, a number outside what the quantity can be, or a value its protocol
declares as "no value" (a *sentinel*, e.g. the TL310's 0x7FFE "NA"). Such a number is never stored: the
field is ``None`` and its state is named in ``fields["value_states"]`` (``{field: {"state": …, "raw": …}}``,
the raw number only when it is finite), and the reading's ``value_state`` is the first non-``ok`` state
(:data:`STATES`). JSON columns then never hold ``NaN``/``Infinity`` (PostgreSQL refuses them, SQLite would
store invalid JSON). The units the profile declares for the reading's fields travel with it (``units``).

Which numbers are suspect comes from the profile: its ``[values.<field>]`` tables (``scale``, ``sentinels``,
``valid_min``/``valid_max``, ``unit``; :class:`drivers.profiles.ValueSpec`) and the units its dialect
section declares per field. Non-finite numbers are caught whether declared or not, at any depth.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from drivers.profiles import Profile, ValueSpec
from lims.clock import utcnow
from lims.db.models import RawCapture, Reading


class ValueState(StrEnum):
    """How a value came from the device."""

    OK = "ok"
    SENTINEL = "sentinel"  # the protocol's "no value" code (e.g. NA)
    NAN = "nan"
    INFINITE = "infinite"
    OUT_OF_RANGE = "out_of_range"


#: Order in which a reading's state is chosen from its fields' states (the first present wins).
STATES = (ValueState.SENTINEL, ValueState.NAN, ValueState.INFINITE, ValueState.OUT_OF_RANGE)


@dataclass(frozen=True)
class CheckedFields:
    """A reading's fields made safe to store, with the reading's state and its fields' units."""

    fields: dict[str, Any]
    value_state: str
    units: dict[str, str] | None


def profile_units(profile: Profile | None) -> dict[str, str]:
    """Unit of every field the profile declares one for (dialect field declarations, then ``[values]``)."""
    if profile is None:
        return {}
    units: dict[str, str] = {}
    if profile.line is not None:
        units.update({f.name: f.unit for r in profile.line.records.values() for f in r.fields if f.unit})
    if profile.binary is not None:
        stack = [f for c in profile.binary.commands.values() for f in c.reply]
        while stack:
            f = stack.pop()
            stack.extend(f.fields)
            if f.unit:
                units[f.name] = f.unit
    if profile.modbus is not None:
        units.update({r.name: r.unit for r in profile.modbus.registers.values() if r.unit})
    units.update({name: spec.unit for name, spec in profile.values.items() if spec.unit})
    return units


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def check_value(value: float, spec: ValueSpec | None) -> tuple[ValueState, float | None]:
    """The state of one number from the wire and the value to store (``None`` unless ``ok``)."""
    if spec is not None and value in spec.sentinels:
        return ValueState.SENTINEL, None
    if math.isnan(value):
        return ValueState.NAN, None
    if math.isinf(value):
        return ValueState.INFINITE, None
    if spec is None:
        return ValueState.OK, value
    scaled = value if spec.scale == 1.0 else round(value * spec.scale, 9)
    if (spec.valid_min is not None and scaled < spec.valid_min) or (
            spec.valid_max is not None and scaled > spec.valid_max):
        return ValueState.OUT_OF_RANGE, None
    return ValueState.OK, scaled


def check_fields(fields: dict[str, Any], profile: Profile | None) -> CheckedFields:
    """Check every number of a reading's ``fields`` against the profile (see the module docstring)."""
    specs = profile.values if profile is not None else {}
    out: dict[str, Any] = {}
    states: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        if isinstance(value, float | int) and not isinstance(value, bool):
            state, kept = check_value(float(value) if isinstance(value, float) else value, specs.get(name))
            if state is ValueState.OK:
                out[name] = kept if isinstance(value, float) or specs.get(name) is not None else value
                continue
            out[name] = None
            states[name] = {"state": str(state)}
            if math.isfinite(value):
                states[name]["raw"] = value
        else:
            out[name] = json_safe(value)
    if states:
        out["value_states"] = states
    found = {s["state"] for s in states.values()}
    reading_state = next((str(s) for s in STATES if str(s) in found), str(ValueState.OK))
    units = {k: u for k, u in profile_units(profile).items() if k in fields}
    return CheckedFields(out, reading_state, units or None)


def new_reading(cap: RawCapture, profile: Profile | None, *, record_type: str, fields: dict[str, Any],
                channel: int | None = None, sample_code: str | None = None, run_no: str = "",
                read_at: dt.datetime | None = None) -> Reading:
    """A reading of capture ``cap`` whose fields went through :func:`check_fields`."""
    checked = check_fields(fields, profile)
    return Reading(raw_capture_id=cap.id, instrument_id=cap.instrument_id, record_type=record_type,
                   channel=channel, sample_code=sample_code, run_no=run_no, fields=checked.fields,
                   value_state=checked.value_state, units=checked.units,
                   read_at=read_at or cap.received_at or utcnow())
