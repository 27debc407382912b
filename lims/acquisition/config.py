"""The `lims acquire` configuration file (TOML), validated when loaded; every error names the file and the
dotted key (``instrument[2].transport``).

Example::

    [acquire]
    lab = "LAB-DEMO"              # lab code of instruments created from this file
    create_instruments = true     # add missing instruments to the database (default true)
    # database_url = "postgresql+psycopg://lims@db/lims"   # default: LIMS_DATABASE_URL

    [[instrument]]
    code = "EI-01"
    name = "酶抑制率速测仪 16 通道"
    profile = "enzyme_ascii_16ch"          # a profile name (drivers/profiles) or a .toml path
    transport = "/dev/ttyUSB0"             # serial device (profile's line settings; overrides below)
    baudrate = 9600

    [[instrument]]
    code = "RT-01"
    profile = "rapid_binary_16ch"
    transport = "socket://192.168.1.50:4001"   # serial-to-Ethernet converter, raw TCP client
    poll_interval_s = 1.0                      # request/response devices
    worklist = "worklists/rt01.csv"            # no sample ID on the wire: run_no,channel,sample_code

    [[instrument]]
    code = "CG-01"
    profile = "colloidal_gold_8lane"
    transport = "/dev/ttyUSB2"
    resend_window_s = 5.0                      # a record sent again this soon after its ACK: a late ACK
    expected_interval_s = 600                  # silent longer than this (no byte at all): a link alert

    [[instrument]]
    code = "GC-01"
    profile = "astm_gc_datasystem"
    transport = "tcp-listen://0.0.0.0:5030"    # the data system connects to the LIMS

    [[instrument]]
    code = "PH-01"
    profile = "modbus_photometric"
    transport = "modbus-tcp://192.168.1.60:502?device_id=1"   # or modbus-rtu:///dev/ttyUSB1?baud=9600
    poll_interval_s = 0.5

    [[watch]]
    instrument = "GC-02"                       # captures and readings are linked to this instrument
    folder = "/srv/exports/gc02"               # .cdf / .txt / .csv exports
    # quarantine = "/srv/exports/gc02/quarantine"   (default: <folder>/quarantine)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from drivers.errors import ProfileError
from drivers.profiles import Profile, load_profile
from drivers.profiles.tables import TomlTable
from lims.acquisition.dialects import dialect_of

SERIAL_KEYS: dict[str, type | tuple[type, ...]] = {"baudrate": int, "bytesize": int, "parity": str, "stopbits": (int, float), "xonxoff": bool,
               "rtscts": bool}
TRANSPORT_KINDS = ("serial", "tcp", "tcp-listen", "modbus-tcp", "modbus-rtu")
DEFAULT_PATTERNS = ("*.cdf", "*.CDF", "*.txt", "*.TXT", "*.csv", "*.CSV", "*.arw", "*.ARW", "*.ch", "*.CH")


class ConfigError(ValueError):
    """The acquisition configuration is invalid; the message names the file and the key."""

    def __init__(self, message: str, *, file: str, key: str | None = None) -> None:
        self.file, self.key, self.detail = file, key, message
        super().__init__(f"{file}: key '{key}': {message}" if key else f"{file}: {message}")


@dataclass(frozen=True)
class TransportSpec:
    """Where an instrument is: ``kind`` in :data:`TRANSPORT_KINDS` and its address parts."""

    kind: str
    url: str
    path: str | None = None
    host: str | None = None
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InstrumentConfig:
    """One ``[[instrument]]``: who it is, which profile it speaks, where it is and how it is polled."""

    code: str  # the instrument's code in the database (readings and captures are linked to it)
    name: str  # display name (default: the code)
    profile: Profile  # its device profile: the dialect and that dialect's section
    transport: TransportSpec  # where it is (serial device, TCP client/server, Modbus TCP/RTU)
    poll_interval_s: float = 1.0  # request/response and Modbus devices: seconds between polls
    timeout_s: float | None = None  # reply timeout (default: the profile's)
    serial_overrides: dict[str, Any] = field(default_factory=dict)  # line settings that win over the profile's
    enabled: bool = True  # a disabled instrument gets no runner
    worklist: Path | None = None  # channel → sample CSV of a binary tester (lims.acquisition.worklist)
    #: a record identical to the one last ACKed that arrives within this many seconds of the ACK is a
    #: duplicate resend (the device did not see our ACK in time; lims.acquisition.dialects.line.LineRunner)
    resend_window_s: float = 5.0
    #: a device that sends nothing (no byte, no poll reply) for longer than this raises a link alert
    #: (``link_silent`` event, ``instrument.silent_since``; lims.acquisition.linkwatch); None: not watched
    expected_interval_s: float | None = None


@dataclass(frozen=True)
class WatchConfig:
    """One ``[[watch]]`` folder of chromatography export files."""

    instrument: str  # code of the instrument the files' captures and readings are linked to
    folder: Path
    quarantine: Path  # malformed files go here with a ``<name>.reason.txt`` (default: <folder>/quarantine)
    interval_s: float = 2.0  # seconds between scans
    settle_s: float = 1.0  # a file modified more recently than this is still being written: next scan
    patterns: tuple[str, ...] = DEFAULT_PATTERNS


@dataclass(frozen=True)
class AcquireConfig:
    path: str
    lab_code: str
    create_instruments: bool
    database_url: str | None
    instruments: tuple[InstrumentConfig, ...]
    watches: tuple[WatchConfig, ...]
    status_interval_s: float = 0.5


def parse_transport(url: str, *, file: str, key: str) -> TransportSpec:
    """Parse a transport URL (see the module docstring); ``ConfigError`` says what is wrong with it."""
    def bad(msg: str) -> ConfigError:
        return ConfigError(f"{msg} (got {url!r})", file=file, key=key)

    if not url:
        raise bad("transport is empty")
    if "://" not in url or url.startswith(("loop://", "rfc2217://", "spy://", "hwgrep://", "alt://")):
        return TransportSpec("serial", url, path=url)
    parts = urlsplit(url)
    params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    scheme = parts.scheme
    if scheme in ("socket", "tcp-listen", "modbus-tcp"):
        try:
            port = parts.port
        except ValueError:
            raise bad("port is not a number in 1..65535") from None
        if not parts.hostname or port is None:
            raise bad(f"{scheme}:// needs host:port")
        kind = {"socket": "tcp", "tcp-listen": "tcp-listen", "modbus-tcp": "modbus-tcp"}[scheme]
        return TransportSpec(kind, url, host=parts.hostname, port=port, params=params)
    if scheme == "modbus-rtu":
        if not parts.path:
            raise bad("modbus-rtu:// needs a serial device path, e.g. modbus-rtu:///dev/ttyUSB0?baud=9600")
        return TransportSpec("modbus-rtu", url, path=parts.path, params=params)
    raise bad(f"unknown scheme {scheme!r}: use a device path, socket://, tcp-listen://, modbus-tcp:// or "
              "modbus-rtu://")


def _config_error(message: str, file: str, key: str | None) -> Exception:
    return ConfigError(message, file=file, key=key)


def _table(data: Any, file: str, key: str) -> TomlTable:
    return TomlTable(data, file, key, error=_config_error)


def _instrument(t: TomlTable, base: Path) -> InstrumentConfig:
    t.check_keys({"code", "name", "profile", "transport", "poll_interval_s", "timeout_s", "enabled",
                  "worklist", "resend_window_s", "expected_interval_s", *SERIAL_KEYS})
    code = t.get("code", str)
    if not code.strip() or len(code) > 60:
        raise t.error("code", "must be 1-60 characters")
    try:
        profile = load_profile(t.get("profile", str))
    except ProfileError as exc:
        raise t.error("profile", str(exc)) from None
    transport = _transport(t, profile)
    overrides = _serial_overrides(t)
    worklist = _worklist(t, profile)
    return InstrumentConfig(code=code, name=t.get("name", str, code), profile=profile, transport=transport,
                            poll_interval_s=t.positive("poll_interval_s", 1.0) or 1.0,
                            timeout_s=t.positive("timeout_s", None), serial_overrides=overrides,
                            enabled=t.get("enabled", bool, True),
                            worklist=base / worklist if worklist is not None else None,
                            resend_window_s=t.positive("resend_window_s", 5.0) or 5.0,
                            expected_interval_s=t.positive("expected_interval_s", None))


def _transport(t: TomlTable, profile: Profile) -> TransportSpec:
    """The instrument's transport URL, checked against its profile's dialect and its URL parameters."""
    transport = parse_transport(t.get("transport", str), file=t.file, key=t.key_of("transport"))
    is_modbus = transport.kind.startswith("modbus")
    if (dialect_of(profile).link == "modbus") != is_modbus:
        raise t.error("transport", f"profile {profile.name!r} is dialect {profile.dialect!r}: "
                      + ("a modbus-* transport does not carry it" if is_modbus
                         else "use modbus-tcp:// or modbus-rtu://"))
    if "device_id" in transport.params:
        try:
            device_id = int(transport.params["device_id"])
        except ValueError:
            device_id = -1
        if not 0 <= device_id <= 247:
            raise t.error("transport", f"device_id must be 0..247, got {transport.params['device_id']!r}")
    for p in ("baud", "timeout_s"):
        if p in transport.params:
            try:
                float(transport.params[p])
            except ValueError:
                raise t.error("transport", f"{p} must be a number, got {transport.params[p]!r}") from None
    return transport


def _serial_overrides(t: TomlTable) -> dict[str, Any]:
    """Serial line settings of the instrument that override its profile's."""
    overrides = {name: t.get(name, kind) for name, kind in SERIAL_KEYS.items() if name in t.data}
    if "parity" in overrides and overrides["parity"] not in ("N", "E", "O", "M", "S"):
        raise t.error("parity", "must be one of N, E, O, M, S")
    return overrides


def _worklist(t: TomlTable, profile: Profile) -> str | None:
    """The channel worklist path, only for dialects without a sample ID on the wire."""
    worklist: str | None = t.get("worklist", str, None)
    if worklist is not None and not dialect_of(profile).takes_worklist:
        raise t.error("worklist", f"profile {profile.name!r} is dialect {profile.dialect!r}: only binary testers "
                      "(no sample ID on the wire) take a channel worklist")
    if worklist is not None and not worklist.strip():
        raise t.error("worklist", "must be a file path")
    return worklist


def _watch(t: TomlTable, base: Path) -> WatchConfig:
    t.check_keys({"instrument", "folder", "quarantine", "interval_s", "settle_s", "patterns"})
    folder = base / t.get("folder", str)
    quarantine = base / t.get("quarantine", str, str(folder / "quarantine"))
    patterns = t.get("patterns", list, list(DEFAULT_PATTERNS))
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise t.error("patterns", "expected a non-empty list of glob patterns")
    settle = t.get("settle_s", (int, float), 1.0)
    if settle < 0:
        raise t.error("settle_s", "must be >= 0")
    return WatchConfig(instrument=t.get("instrument", str), folder=folder, quarantine=quarantine,
                       interval_s=t.positive("interval_s", 2.0) or 2.0, settle_s=float(settle),
                       patterns=tuple(patterns))


def parse_config(text: str, *, file: str = "<config>", base: Path | None = None) -> AcquireConfig:
    """Validate a configuration document (relative watch folders are taken from ``base``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    root = _table(data, file, "")
    root.check_keys({"acquire", "instrument", "watch"})
    head = _table(data.get("acquire", {}), file, "acquire")
    head.check_keys({"lab", "create_instruments", "database_url", "status_interval_s"})
    instruments = []
    raw_instruments = data.get("instrument", [])
    if not isinstance(raw_instruments, list):
        raise ConfigError("expected an array of tables [[instrument]]", file=file, key="instrument")
    for i, item in enumerate(raw_instruments):
        instruments.append(_instrument(_table(item, file, f"instrument[{i}]"), base or Path(".")))
    codes = [c.code for c in instruments]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise ConfigError(f"instrument code {code!r} appears twice", file=file, key=f"instrument[{i}].code")
    listen = [(c.transport.host, c.transport.port) for c in instruments if c.transport.kind == "tcp-listen"]
    for i, c in enumerate(instruments):
        if c.transport.kind == "tcp-listen" and listen.count((c.transport.host, c.transport.port)) > 1:
            raise ConfigError("two instruments listen on the same address", file=file,
                              key=f"instrument[{i}].transport")
    raw_watches = data.get("watch", [])
    if not isinstance(raw_watches, list):
        raise ConfigError("expected an array of tables [[watch]]", file=file, key="watch")
    watches = [_watch(_table(w, file, f"watch[{i}]"), base or Path(".")) for i, w in enumerate(raw_watches)]
    if not instruments and not watches:
        raise ConfigError("no [[instrument]] and no [[watch]] configured", file=file)
    return AcquireConfig(path=file, lab_code=head.get("lab", str, "LAB-DEMO"),
                         create_instruments=head.get("create_instruments", bool, True),
                         database_url=head.get("database_url", str, None), instruments=tuple(instruments),
                         watches=tuple(watches),
                         status_interval_s=head.positive("status_interval_s", 0.5) or 0.5)


def load_config(path: str | Path) -> AcquireConfig:
    """Read and validate a configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte offset {exc.start})", file=str(p)) from None
    return parse_config(text, file=str(p), base=p.resolve().parent)
