"""Environment records (issue 15): a refrigerator's transmitter is polled over real Modbus TCP (the simulator
in hardware_sim.env_sensor, decoded through drivers/profiles/modbus_env_sensor.toml); in range → a plain
record; out of range → alarm and one nonconformity for the location (later excursions link to it)."""

from __future__ import annotations

import datetime as dt

import pytest
from hardware_sim.env_sensor import EnvSensorSim
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models_pt import Nonconformity
from lims.demo import seed_reference
from lims.quality import environment as env
from lims.services.errors import Conflict, InvalidInput

pytestmark = pytest.mark.db
T0 = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


def test_refrigerator_out_of_range_over_modbus_opens_a_nonconformity(db_factory):
    seed_reference(db_factory)
    with EnvSensorSim(temperature_c=4.2, humidity_pct=51.3) as sim:
        port = sim.start_tcp()
        with session_scope(db_factory, actor="zhaomin") as s:
            env.add_location(s, code="FRIDGE-1", name="标准品冰箱", kind="refrigerator",
                             limits=env.Limits(temp_min_c=2.0, temp_max_c=8.0), sensor_url=f"modbus-tcp://127.0.0.1:{port}")
            ok = env.poll(s, "FRIDGE-1", at=T0)
            assert (ok.temperature_c, ok.humidity_pct, ok.source, ok.alarm, ok.nonconformity_id) == (
                4.2, 51.3, "modbus", "", None)
        sim.set(temperature_c=12.5)
        with session_scope(db_factory, actor="zhaomin") as s:
            bad = env.poll(s, "FRIDGE-1", at=T0 + dt.timedelta(minutes=10))
            assert bad.alarm == "温度 temperature 12.5 °C > 8" and bad.nonconformity_id is not None
            nc = s.get(Nonconformity, bad.nonconformity_id)
            assert nc.source == "environment" and "FRIDGE-1" in nc.description and nc.status == "open"
        sim.set(temperature_c=-3.0)  # negative: int16 two's complement on the wire
        with session_scope(db_factory, actor="zhaomin") as s:
            again = env.poll(s, "FRIDGE-1", at=T0 + dt.timedelta(minutes=20))
            assert again.temperature_c == -3.0 and "< 2" in again.alarm
            assert again.nonconformity_id == bad.nonconformity_id  # linked to the open one, not a second NC
            assert len(s.execute(select(Nonconformity).where(Nonconformity.source == "environment")).all()) == 1
        sim.set(probe_fault=True)
        with session_scope(db_factory, actor="zhaomin") as s, pytest.raises(Conflict) as e:
            env.poll(s, "FRIDGE-1", at=T0 + dt.timedelta(minutes=30))
        assert e.value.code == "env.probe_fault"
        assert sim.requests >= 4
    with session_scope(db_factory, actor="zhaomin") as s:
        assert [r.at.minute for r in env.readings_of(s, "FRIDGE-1")] == [20, 10, 0]


def test_unreachable_sensor_and_bad_limits_are_named(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        with pytest.raises(InvalidInput) as e:
            env.add_location(s, code="R1", name="天平室", kind="room", limits=env.Limits(temp_min_c=26, temp_max_c=18))
        assert e.value.code == "quality.limits_out_of_order"
        with pytest.raises(InvalidInput) as e:
            env.add_location(s, code="R1", name="天平室", kind="room", limits=env.Limits(), sensor_url="http://x")
        assert e.value.field == "sensor_url"
        env.add_location(s, code="R2", name="样品库", kind="sample_storage", limits=env.Limits(rh_max_pct=70),
                         sensor_url="modbus-tcp://127.0.0.1:1")
        with pytest.raises(Conflict) as e:
            env.poll(s, "R2")
        assert e.value.code == "env.sensor_unreachable"
        manual = env.record(s, "R2", temperature_c=None, humidity_pct=75.0, at=T0)
        assert manual.alarm == "湿度 humidity 75 %RH > 70" and manual.nonconformity_id
        with pytest.raises(Conflict) as e:
            env.record(s, "R2", temperature_c=20.0, humidity_pct=50.0, at=T0)
        assert e.value.code == "env.duplicate"
        with pytest.raises(InvalidInput) as e:
            env.readings_of(s, "R2", since=T0, until=T0 - dt.timedelta(hours=1))
        assert e.value.code == "quality.dates_out_of_order"
