"""Environment records (ISO/IEC 17025:2017 6.3.3; RB/T 214 4.3.3): temperature and humidity of rooms,
refrigerators and sample stores, read from Modbus temperature/humidity transmitters through the project's
drivers (profile ``modbus_env_sensor``; :func:`read_sensor`) or entered by hand, judged against the
location's limits. A record out of range carries its alarm and opens a nonconformity for the location
(one while the last one raised for it is not closed; later excursions link to it).
Services take a Session and never commit; :func:`read_sensor` does the I/O and touches no database.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers.codecs.modbus_map import block_span, decode_block
from drivers.errors import DriverError
from drivers.profiles import load_profile
from drivers.transports.modbus import ModbusLink
from lims.clock import as_utc, utcnow
from lims.db.models_pt import Nonconformity
from lims.db.models_quality import NcLink
from lims.db.models_registers import EnvLocation, EnvReading
from lims.quality import nonconformity
from lims.quality.common import choice, text
from lims.quality.registers_vocab import EnvLocationKind
from lims.quality.vocabulary import NcLinkKind, NcRisk, NcSource
from lims.services.errors import Conflict, InvalidInput
from lims.services.lookup import code_exists, get_by_code
from lims.vocabulary import NonconformityStatus

PROFILE = "modbus_env_sensor"


@dataclass(frozen=True)
class Limits:
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    rh_min_pct: float | None = None
    rh_max_pct: float | None = None


def _pair(low: float | None, high: float | None, name: str) -> None:
    for v in (low, high):
        if v is not None and not math.isfinite(v):
            raise InvalidInput(f"{name} limits must be finite numbers", field=name, code="quality.bad_value")
    if low is not None and high is not None and high < low:
        raise InvalidInput(f"{name} upper limit {high} is below the lower limit {low}", field=name,
                           code="quality.limits_out_of_order")


def add_location(s: Session, *, code: str, name: str, kind: str, limits: Limits, sensor_url: str = "",
                 device_id: int = 1) -> EnvLocation:
    if code_exists(s, EnvLocation, code):
        raise Conflict(f"monitored location {code} already exists", field="code", code="env.exists")
    _pair(limits.temp_min_c, limits.temp_max_c, "temperature")
    _pair(limits.rh_min_pct, limits.rh_max_pct, "humidity")
    if sensor_url and urlsplit(sensor_url).scheme != "modbus-tcp":
        raise InvalidInput(f"sensor_url must be modbus-tcp://host:port (got {sensor_url!r})", field="sensor_url",
                           code="quality.bad_value")
    row = EnvLocation(code=text(code, "code"), name=text(name, "name"), kind=choice(EnvLocationKind, kind, "kind"),
                      temp_min_c=limits.temp_min_c, temp_max_c=limits.temp_max_c, rh_min_pct=limits.rh_min_pct,
                      rh_max_pct=limits.rh_max_pct, sensor_url=sensor_url.strip(), device_id=device_id)
    s.add(row)
    s.flush()
    return row


def _outside(value: float | None, low: float | None, high: float | None, what: str, unit: str) -> str:
    if value is None:
        return ""
    if low is not None and value < low:
        return f"{what} {value:g} {unit} < {low:g}"
    if high is not None and value > high:
        return f"{what} {value:g} {unit} > {high:g}"
    return ""


def alarm_of(loc: EnvLocation, temperature_c: float | None, humidity_pct: float | None) -> str:
    parts = [_outside(temperature_c, loc.temp_min_c, loc.temp_max_c, "温度 temperature", "°C"),
             _outside(humidity_pct, loc.rh_min_pct, loc.rh_max_pct, "湿度 humidity", "%RH")]
    return "; ".join(p for p in parts if p)


def _open_nc(s: Session, code: str) -> Nonconformity | None:
    return s.execute(select(Nonconformity).join(NcLink, NcLink.nonconformity_id == Nonconformity.id).where(
        NcLink.kind == NcLinkKind.ENV_LOCATION, NcLink.ref == code, Nonconformity.source == NcSource.ENVIRONMENT,
        Nonconformity.status != NonconformityStatus.CLOSED).order_by(Nonconformity.id.desc())).scalars().first()


def record(s: Session, code: str, *, temperature_c: float | None, humidity_pct: float | None,
           at: dt.datetime | None = None, source: str = "manual", raised_by: str = "system") -> EnvReading:
    """Store one record; out of range → alarm and a nonconformity for the location."""
    loc = get_by_code(s, EnvLocation, code, field="location", what="monitored location")
    if temperature_c is None and humidity_pct is None:
        raise InvalidInput("a record needs a temperature or a humidity", field="temperature_c",
                           code="quality.missing_text")
    for name, v in (("temperature_c", temperature_c), ("humidity_pct", humidity_pct)):
        if v is not None and not math.isfinite(v):
            raise InvalidInput(f"{name} must be a finite number", field=name, code="quality.bad_value")
    at = as_utc(at) if at else utcnow()
    if s.execute(select(EnvReading.id).where(EnvReading.location_id == loc.id, EnvReading.at == at)).first():
        raise Conflict(f"{code} already has a record at {at.isoformat()}", field="at", code="env.duplicate")
    row = EnvReading(location_id=loc.id, at=at, temperature_c=temperature_c, humidity_pct=humidity_pct,
                     source=source, alarm=alarm_of(loc, temperature_c, humidity_pct)[:300])
    s.add(row)
    s.flush()
    if row.alarm:
        nc = _open_nc(s, loc.code)
        if nc is None:
            nc = nonconformity.raise_nc(
                s, source=NcSource.ENVIRONMENT, risk=NcRisk.MEDIUM, raised_by=raised_by, source_ref=loc.code,
                description=f"{loc.name}（{loc.code}）环境条件超限 / environment out of range at {at:%Y-%m-%d %H:%M} UTC: "
                            f"{row.alarm}", links=[(NcLinkKind.ENV_LOCATION, loc.code)], today=at.date())
        row.nonconformity_id = nc.id
        s.flush()
    return row


@dataclass(frozen=True)
class SensorValues:
    temperature_c: float
    humidity_pct: float
    probe_fault: bool


def read_sensor(url: str, *, device_id: int = 1, timeout_s: float = 1.0) -> SensorValues:
    """One poll of a transmitter at ``modbus-tcp://host:port`` (profile ``modbus_env_sensor``)."""
    parts = urlsplit(url)
    if parts.scheme != "modbus-tcp" or not parts.hostname:
        raise InvalidInput(f"sensor_url must be modbus-tcp://host:port (got {url!r})", field="sensor_url",
                           code="quality.bad_value")
    profile = load_profile(PROFILE)
    start, count = block_span(profile, "input")
    link = ModbusLink.tcp(parts.hostname, parts.port or 502, device_id=device_id, timeout_s=timeout_s)
    try:
        link.open()
        values = decode_block(profile, "input", start, link.read_input_registers(start, count))
    except DriverError as exc:
        raise Conflict(f"sensor {url}: {exc}", field="sensor_url", code="env.sensor_unreachable") from exc
    finally:
        link.close()
    # registers hold tenths: round away the binary artefact of the ×0.1 scale (451 × 0.1 = 45.100000000000001)
    return SensorValues(round(float(values["temperature_c"].value), 3), round(float(values["humidity_pct"].value), 3),
                        bool(values["status"].value["probe_fault"]))


def poll(s: Session, code: str, *, at: dt.datetime | None = None, raised_by: str = "system") -> EnvReading:
    """Read the location's sensor and store the record (a probe fault is an alarm too)."""
    loc = get_by_code(s, EnvLocation, code, field="location", what="monitored location")
    if not loc.sensor_url:
        raise Conflict(f"{code} has no sensor", field="location", code="env.no_sensor")
    v = read_sensor(loc.sensor_url, device_id=loc.device_id)
    if v.probe_fault:
        raise Conflict(f"sensor of {code} reports a probe fault", field="location", code="env.probe_fault")
    return record(s, code, temperature_c=v.temperature_c, humidity_pct=v.humidity_pct, at=at, source="modbus",
                  raised_by=raised_by)


def readings_of(s: Session, code: str, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
                limit: int = 500) -> list[EnvReading]:
    loc = get_by_code(s, EnvLocation, code, field="location", what="monitored location")
    if since and until and as_utc(until) < as_utc(since):
        raise InvalidInput(f"until {until} is before since {since}", field="until", code="quality.dates_out_of_order")
    q = select(EnvReading).where(EnvReading.location_id == loc.id)
    if since:
        q = q.where(EnvReading.at >= as_utc(since))
    if until:
        q = q.where(EnvReading.at <= as_utc(until))
    return list(s.execute(q.order_by(EnvReading.at.desc()).limit(limit)).scalars())


def list_locations(s: Session) -> list[EnvLocation]:
    return list(s.execute(select(EnvLocation).order_by(EnvLocation.code)).scalars())
