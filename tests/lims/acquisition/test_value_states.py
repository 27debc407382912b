"""Values as devices send them (issue 13): a float32 NaN or ±Inf from the Modbus photometer, an out-of-range
value and a profile-declared sentinel become typed reading states with the number absent — never ``NaN`` in a
JSON column — on SQLite and PostgreSQL; a capture whose parsing fails unexpectedly never stops a runner,
``settle_pending`` or the start of ``lims acquire``. Register blocks come from the simulator's own encoder."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path
from typing import Any

import pytest
from hardware_sim.modbus_analyzer import float_to_cdab, string_to_registers
from sqlalchemy import select, text

from drivers.profiles import load_profile
from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.dialects import modbus as modbus_dialect
from lims.acquisition.service import ensure_instruments
from lims.acquisition.settle import settle_pending
from lims.acquisition.store import CaptureStore, NewCapture, StatusTracker
from lims.acquisition.values import ValueState, check_fields
from lims.db.models import RawCapture, Reading

NAN, INF = float("nan"), float("inf")


def _block(absorbance: float, inhibition: float, conc: float = 0.1, temp: float = 25.0, counter: int = 1) -> bytes:
    regs = [0b1001, 0, counter, 0, *float_to_cdab(absorbance), *float_to_cdab(inhibition), *float_to_cdab(conc),
            *float_to_cdab(temp), *string_to_registers("S0001", 8)]
    return struct.pack(f">{len(regs)}H", *regs)


def _instrument(db_factory: Any, code: str = "PH-N") -> tuple[int, CaptureStore]:
    cfg = parse_config(f'[[instrument]]\ncode = "{code}"\nprofile = "modbus_photometric"\n'
                       'transport = "modbus-tcp://127.0.0.1:5020"\n')
    inst_id, _ = ensure_instruments(db_factory, cfg)[code]
    return inst_id, CaptureStore(db_factory, inst_id, code, "modbus_photometric")


def _json_texts(db_engine: Any) -> list[str]:
    """The reading JSON columns exactly as the database holds them (text)."""
    cast = "CAST(fields AS TEXT)" if db_engine.dialect.name == "postgresql" else "fields"
    with db_engine.connect() as c:
        return [row[0] for row in c.execute(text(f"SELECT {cast} FROM reading"))]


def test_nan_and_inf_from_modbus_become_states_not_numbers(db_factory, db_engine):
    inst_id, store = _instrument(db_factory)
    store.add([NewCapture(_block(NAN, INF, counter=1), source="input:0"),
               NewCapture(_block(0.5, 42.5, counter=2), source="input:0")])
    out = settle_pending(db_factory, inst_id, actor="test")  # crashed on PostgreSQL: Token "NaN" is invalid
    assert (out.parsed, out.errors) == (2, 0)
    with db_factory() as s:
        bad, good = s.execute(select(Reading).order_by(Reading.id)).scalars().all()
        assert bad.value_state == "nan" and good.value_state == "ok"
        assert bad.fields["absorbance"] is None and bad.fields["inhibition_percent"] is None
        assert bad.fields["value_states"] == {"absorbance": {"state": "nan"}, "inhibition_percent": {"state": "infinite"}}
        assert bad.units == {"absorbance": "AU", "inhibition_percent": "%", "concentration_mg_kg": "mg/kg",
                             "cell_temperature_c": "degC"}
        assert good.fields["inhibition_percent"] == 42.5 and good.units["inhibition_percent"] == "%"
    def refuse(constant: str) -> None:
        pytest.fail(f"invalid JSON constant {constant}")

    for raw in _json_texts(db_engine):  # strict JSON: no NaN/Infinity tokens (SQLite stored them before)
        json.loads(raw, parse_constant=refuse)


def test_nan_from_the_device_never_stops_the_modbus_runner(db_factory):
    class Link:
        address = "test://modbus"

        def __init__(self) -> None:
            self.blocks = [_block(NAN, NAN, counter=1), _block(0.4, 12.0, counter=2)]

        def read_input_registers(self, start: int, count: int) -> list[int]:
            data = self.blocks.pop(0) if len(self.blocks) > 1 else self.blocks[0]
            return list(struct.unpack(f">{len(data) // 2}H", data))

        def close(self) -> None: ...

    cfg = parse_config('[[instrument]]\ncode = "PH-R"\nprofile = "modbus_photometric"\n'
                       'transport = "modbus-tcp://127.0.0.1:5020"\n').instruments[0]
    inst_id, store = _instrument(db_factory, "PH-R")
    runner = modbus_dialect.ModbusRunner(cfg, Link(), store, StatusTracker(db_factory, inst_id),  # type: ignore[arg-type]
                                         threading.Event())
    runner._poll(0.0)
    runner._poll(1.0)
    assert (runner.stats.captures, runner.stats.readings, runner.stats.errors) == (2, 2, 0)
    with db_factory() as s:
        states = s.execute(select(Reading.value_state).order_by(Reading.id)).scalars().all()
    assert states == ["nan", "ok"]


def test_profile_declared_sentinel_and_range(tmp_path: Path):
    src = (Path(load_profile("modbus_photometric").path)).read_text(encoding="utf-8")
    path = tmp_path / "photometer_na.toml"
    path.write_text(src.replace('name = "modbus_photometric"', 'name = "photometer_na"') + """
[values.inhibition_percent]
unit = "%"
scale = 0.1
sentinels = [32766]
valid_min = 0
valid_max = 100
""", encoding="utf-8")
    profile = load_profile(path)
    na = check_fields({"inhibition_percent": 32766, "absorbance": 0.5}, profile)
    assert na.value_state == ValueState.SENTINEL and na.fields["inhibition_percent"] is None
    assert na.fields["value_states"] == {"inhibition_percent": {"state": "sentinel", "raw": 32766}}
    high = check_fields({"inhibition_percent": 1234}, profile)
    assert high.value_state == "out_of_range" and high.fields["value_states"]["inhibition_percent"]["raw"] == 1234
    ok = check_fields({"inhibition_percent": 523}, profile)
    assert ok.value_state == "ok" and ok.fields["inhibition_percent"] == pytest.approx(52.3)
    assert ok.units == {"inhibition_percent": "%"}
    nested = check_fields({"trace": [1.0, NAN], "meta": {"x": -INF}}, None)
    assert nested.fields == {"trace": [1.0, None], "meta": {"x": None}}


def test_one_poisoned_capture_never_stops_settle_pending_or_the_service(db_factory, monkeypatch):
    inst_id, store = _instrument(db_factory, "PH-P")
    store.add([NewCapture(_block(0.3, 10.0, counter=n), source="input:0") for n in (1, 2, 3)])
    real = modbus_dialect.parse_modbus_capture

    def poisoned(s: Any, cap: RawCapture, profile: Any) -> list[Reading]:
        if cap.data == _block(0.3, 10.0, counter=2):
            raise RuntimeError("reader bug: untyped error")  # what no dialect anticipates
        return real(s, cap, profile)

    monkeypatch.setattr(modbus_dialect, "parse_modbus_capture", poisoned)
    config = parse_config('[[instrument]]\ncode = "PH-P"\nprofile = "modbus_photometric"\n'
                          'transport = "modbus-tcp://127.0.0.1:5020"\nenabled = false\n')
    service = AcquisitionService(config, db_factory)
    settled = service.settle_pending()["PH-P"]  # stopped the start of lims acquire before
    assert (settled.parsed, settled.errors) == (2, 1)
    with db_factory() as s:
        caps = s.execute(select(RawCapture).order_by(RawCapture.id)).scalars().all()
        assert [c.parse_status for c in caps] == ["parsed", "error", "parsed"]
        assert caps[1].error.startswith("Quarantined: RuntimeError: reader bug")
        assert s.execute(select(Reading.id)).scalars().all() != []


def test_astm_result_spelled_nan_is_a_typed_state_with_its_units():
    from hardware_sim.astm import AstmMessage, AstmResult, message_frames, message_records

    from lims.acquisition.dialects.astm import read_message

    msg = AstmMessage("S-9", (AstmResult("CHLORPYRIFOS", "NaN", units="mg/kg"), AstmResult("DIMETHOATE", "0.02",
                                                                                           units="mg/kg"),
                              AstmResult("ACEPHATE", "-INF"), AstmResult("OMETHOATE", "ND")))
    frames = message_frames(message_records(msg))
    values = read_message(frames, encoding="latin-1").values
    assert [v["value_state"] for v in values] == ["nan", "ok", "infinite", "ok"]
    assert values[0]["units"] == {"value": "mg/kg"}


def test_a_failing_settle_of_one_instrument_never_stops_the_others(db_factory, monkeypatch):
    from lims.acquisition import service as service_module

    config = parse_config('[[instrument]]\ncode = "PH-A"\nprofile = "modbus_photometric"\n'
                          'transport = "modbus-tcp://127.0.0.1:5020"\nenabled = false\n'
                          '[[instrument]]\ncode = "PH-B"\nprofile = "modbus_photometric"\n'
                          'transport = "modbus-tcp://127.0.0.1:5021"\nenabled = false\n')
    service = AcquisitionService(config, db_factory)
    service.prepare()
    real = service_module.settle_pending

    def broken(factory: Any, inst_id: int, **kw: Any) -> Any:
        if inst_id == service._ids["PH-A"][0]:
            raise RuntimeError("database hiccup")
        return real(factory, inst_id, **kw)

    monkeypatch.setattr(service_module, "settle_pending", broken)
    out = service.settle_pending()
    assert out["PH-A"].problems == ["settling failed: RuntimeError: database hiccup"] and out["PH-B"].problems == []


def test_a_poisoned_astm_message_never_stops_settling_the_others(db_factory, monkeypatch):
    from hardware_sim.astm import AstmMessage, AstmResult, message_frames, message_records

    from lims.acquisition.dialects import astm as astm_dialect

    cfg = parse_config('[[instrument]]\ncode = "GC-Q"\nprofile = "astm_gc_datasystem"\ntransport = "/dev/null"\n')
    inst_id, _ = ensure_instruments(db_factory, cfg)["GC-Q"]
    store = CaptureStore(db_factory, inst_id, "GC-Q", "astm_gc_datasystem")
    for sample in ("S-A", "S-POISON", "S-C"):
        msg = AstmMessage(sample, (AstmResult("CHLORPYRIFOS", "0.05"),))
        store.add([NewCapture(f) for f in message_frames(message_records(msg))])
    real = astm_dialect.read_message

    def poisoned(frames: Any, *, encoding: str) -> Any:
        if any(b"S-POISON" in f for f in frames):
            raise UnicodeError("a decoder nobody expected to fail")
        return real(frames, encoding=encoding)

    monkeypatch.setattr(astm_dialect, "read_message", poisoned)
    out = settle_pending(db_factory, inst_id, actor="test")
    assert out.readings == 2 and out.errors > 0
    with db_factory() as s:
        assert sorted(s.execute(select(Reading.sample_code)).scalars()) == ["S-A", "S-C"]
