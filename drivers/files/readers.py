"""Format detection and the four readers. Every error names the file and the line or byte offset."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from drivers.files.errors import ChromatogramFileError
from drivers.files.model import ChromatogramFile, ExportedPeak, PeakTable, Trace

_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02")
_SECTION = re.compile(r"^\[(.+)\]\s*$")
_CHROM_SECTION = re.compile(r"^(LC|GC) Chromatogram\((.*)\)$")
_PEAK_SECTION = re.compile(r"^Peak Table\((.*)\)$")
_SIGNAL = re.compile(r"^\s*Signal\s+(\d+)\s*:\s*(.*?)\s*$")


def read_chromatogram_file(path: str | Path) -> ChromatogramFile:
    """Read any supported export; raises ChromatogramFileError for unreadable or malformed files."""
    p = Path(path)
    name = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ChromatogramFileError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    return read_chromatogram_bytes(raw, name)


def read_chromatogram_bytes(raw: bytes, name: str) -> ChromatogramFile:
    """Read an export from its bytes (e.g. a stored raw capture); ``name`` is the file name it had. Any
    failure of a reader on malformed input is a :class:`ChromatogramFileError` naming what failed."""
    try:
        return _read_chromatogram_bytes(raw, name)
    except ChromatogramFileError:
        raise
    except Exception as exc:  # csv.Error (a field over the csv module's limit), struct/netCDF errors, ...
        raise ChromatogramFileError(f"unreadable export ({type(exc).__name__}: {exc})", file=name) from None


def _read_chromatogram_bytes(raw: bytes, name: str) -> ChromatogramFile:
    p = Path(name)
    if not raw:
        raise ChromatogramFileError("file is empty", file=name, byte_offset=0)
    if raw[:4] in _NETCDF_MAGIC:
        return read_andi_netcdf(io.BytesIO(raw), name=name)
    text = _decode(raw, name)
    if _CHROM_SECTION.search(text.replace("\r", ""), 0) or "[Header]" in text or re.search(
            r"^\[(LC|GC) Chromatogram\(", text, re.M):
        return parse_labsolutions(text, name)
    if re.match(r"REPORT\d\d\.CSV$", p.name, re.I):
        return parse_chemstation_csv(text, name)
    if "RetTime" in text and re.search(r"^[-|\s]{10,}$", text, re.M):
        return parse_chemstation_report(text, name)
    return parse_time_signal_csv(text, name)


def _decode(raw: bytes, name: str) -> str:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ChromatogramFileError("invalid UTF-16 text", file=name, byte_offset=exc.start) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        return raw.decode("gb18030")  # Chinese Windows exports (LabSolutions in zh-CN)
    except UnicodeDecodeError:
        raise ChromatogramFileError("not UTF-8, UTF-16 or GB18030 text", file=name,
                                    byte_offset=first_bad) from None


def _num(text: str, name: str, line: int, field: str) -> float:
    try:
        v = float(text.strip())
    except ValueError:
        raise ChromatogramFileError(f"not a number: {text.strip()!r}", file=name, line=line, field=field) from None
    if not math.isfinite(v):
        raise ChromatogramFileError(f"not a finite number: {text.strip()!r}", file=name, line=line, field=field)
    return v


def _opt_num(text: str) -> float | None:
    try:
        v = float(text.strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


# --------------------------------------------------------------------------- AIA / ANDI netCDF

#: netCDF default fill values (netcdf.h NC_FILL_*): what a writer leaves in values it never wrote.
_NC_DEFAULT_FILL = {"b": -127, "h": -32767, "i": -2147483647, "f": 9.9692099683868690e36, "d": 9.9692099683868690e36}


class _NcVariable(Protocol):
    """What the AIA reader uses of a scipy ``netcdf_variable``."""

    data: Any


def _numeric(v: _NcVariable) -> tuple[np.ndarray, np.ndarray]:
    """A numeric netCDF variable's values as floats, and True where a value was never written: its
    ``_FillValue`` (else the default fill for its type, netcdf.h), or not finite. A variable that is not
    numeric raises ValueError."""
    data = np.asarray(v.data)
    if data.dtype.kind not in "biuf":
        raise ValueError(f"a numeric variable holds {data.dtype} values")
    fill = getattr(v, "_FillValue", None)
    if fill is None:
        fill = _NC_DEFAULT_FILL.get(data.dtype.char)
    values = data.astype(float)
    unwritten = ~np.isfinite(values)
    if fill is not None:
        unwritten |= values == float(np.asarray(fill).ravel()[0])
    return values, unwritten


@dataclass(frozen=True)
class _AndiContent:
    """The variables and global attributes (as text) of an open AIA file, and the file's name for errors."""

    var: Mapping[str, _NcVariable]
    attrs: dict[str, str]
    name: str

    def numeric(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_numeric` of variable ``key``; a variable that is not numeric is an error naming it."""
        try:
            return _numeric(self.var[key])
        except ValueError as exc:
            raise ChromatogramFileError(f"{key}: {exc}", file=self.name, field=key) from None

    def scalar(self, key: str, default: float | None) -> float | None:
        """A number from variable or global attribute ``key``; ``default`` when absent or unwritten."""
        if key in self.var:
            values, unwritten = self.numeric(key)
            return default if unwritten.ravel()[0] else float(values.ravel()[0])
        if key in self.attrs:
            v = _opt_num(self.attrs[key])
            return v if v is not None else default
        return default


def read_andi_netcdf(path: str | Path | io.BytesIO, *, name: str | None = None) -> ChromatogramFile:
    """AIA/ANDI chromatography netCDF (ASTM E1947): trace from ``ordinate_values`` sampled every
    ``actual_sampling_interval`` s after ``actual_delay_time`` s; peak table from ``peak_*``.

    Values never written (netCDF fill) are absent, never data: an unwritten delay is 0, an unwritten
    peak area is None, an unwritten trace point is an error naming it. Times must be in seconds
    (``retention_unit``); a file declaring the trace (``dataset_completeness`` C1) must hold it."""
    from scipy.io import netcdf_file

    source = path if isinstance(path, io.BytesIO) else str(path)
    name = name or str(path)
    try:
        nc = netcdf_file(source, "r", mmap=False)
    except Exception as exc:  # scipy raises TypeError/ValueError/OSError on corrupt headers
        raise ChromatogramFileError(f"not a readable classic netCDF file ({exc})", file=name, byte_offset=0) from None
    try:
        content = _AndiContent(nc.variables, {k: _attr_text(v) for k, v in nc._attributes.items()}, name)
        _check_retention_unit(content)
        traces = _andi_traces(content)
        tables = _andi_peak_tables(content)
        if not traces and not tables:
            raise ChromatogramFileError("no ordinate_values and no peak table in this netCDF file", file=name)
        return ChromatogramFile("andi-netcdf", name, traces, tables, content.attrs)
    except ChromatogramFileError:
        raise
    except (ValueError, TypeError, IndexError) as exc:  # a variable of the wrong type or shape
        raise ChromatogramFileError(f"malformed AIA content ({exc})", file=name) from None
    finally:
        nc.close()


def _check_retention_unit(content: _AndiContent) -> None:
    unit = content.attrs.get("retention_unit", "").strip().lower()
    if unit not in ("", "seconds", "second", "sec", "s"):
        raise ChromatogramFileError(f"retention_unit {content.attrs['retention_unit']!r}: only seconds are read "
                                    "(ASTM E1947 template)", file=content.name, field="retention_unit")


def _andi_traces(content: _AndiContent) -> tuple[Trace, ...]:
    """The trace of ``ordinate_values`` (none if absent, unless ``dataset_completeness`` declares C1)."""
    var, attrs, name = content.var, content.attrs, content.name
    if "ordinate_values" not in var:
        if "C1" in attrs.get("dataset_completeness", "").upper():
            raise ChromatogramFileError("dataset_completeness declares C1 (raw data) but there is no "
                                        "ordinate_values", file=name, field="ordinate_values")
        return ()
    y, unwritten = _numeric(var["ordinate_values"])  # astype: a copy, not scipy's buffer
    gaps = np.flatnonzero(unwritten)
    if gaps.size:
        raise ChromatogramFileError(f"ordinate_values: {gaps.size} point(s) never written (netCDF fill), "
                                    f"first at index {gaps[0]}", file=name, field="ordinate_values")
    dt = content.scalar("actual_sampling_interval", None)
    if dt is None or dt <= 0:
        raise ChromatogramFileError("actual_sampling_interval is missing or not positive", file=name,
                                    field="actual_sampling_interval")
    delay = content.scalar("actual_delay_time", 0.0) or 0.0
    t_min = (delay + dt * np.arange(y.size)) / 60.0
    channel = attrs.get("detector_name") or "ordinate_values"
    units = attrs.get("detector_unit") or _attr_text(getattr(var["ordinate_values"], "units", b"")) or None
    return (Trace(channel, t_min, y, units),)


def _andi_peak_tables(content: _AndiContent) -> tuple[PeakTable, ...]:
    """The peak table of the ``peak_*`` variables (none without ``peak_retention_time``)."""
    var, name = content.var, content.name
    if "peak_retention_time" not in var:
        return ()
    rt_s, unwritten = _numeric(var["peak_retention_time"])
    rt = rt_s / 60.0
    missing = np.flatnonzero(unwritten)
    if missing.size:
        raise ChromatogramFileError(f"peak_retention_time of peak {missing[0] + 1} never written "
                                    "(netCDF fill)", file=name, field="peak_retention_time")

    def col(key: str, scale: float = 1.0) -> list[float | None]:
        if key not in var:
            return [None] * rt.size
        values, absent = _numeric(var[key])
        return [None if gone else float(v) * scale for v, gone in zip(values, absent, strict=True)]

    names: list[str | None] = [None] * rt.size
    if "peak_name" in var:
        arr = np.asarray(var["peak_name"].data)
        names = [_nc_text(b"".join(r)) or None for r in arr]
    areas, heights = col("peak_area"), col("peak_height")
    starts, ends = col("peak_start_time", 1 / 60), col("peak_end_time", 1 / 60)
    peaks = tuple(ExportedPeak(float(rt[i]), areas[i], heights[i], starts[i], ends[i], names[i])
                  for i in range(rt.size))
    return (PeakTable(content.attrs.get("detector_name") or "peak_table", peaks),)


def _nc_text(raw: bytes) -> str:
    """netCDF char data as text: a C string (cut at the first NUL), blank-padded; UTF-8, else latin-1."""
    raw = raw.split(b"\x00", 1)[0].rstrip(b" ")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _attr_text(v: object) -> str:
    if isinstance(v, bytes):
        return _nc_text(v)
    if isinstance(v, np.ndarray):
        return " ".join(str(x) for x in v.ravel())
    return str(v)


# --------------------------------------------------------------------------- ChemStation

def parse_chemstation_report(text: str, name: str) -> ChromatogramFile:
    """ChemStation ``Report.TXT`` peak tables: columns located from the ``----|----|`` ruler."""
    lines = text.splitlines()
    tables: list[PeakTable] = []
    channel = "Signal 1"
    i = 0
    while i < len(lines):
        m = _SIGNAL.match(lines[i])
        if m:
            channel = f"Signal {m.group(1)}: {m.group(2)}".strip().rstrip(":")
        if re.match(r"^\s*Peak\s+RetTime", lines[i]):
            header = [lines[i]]
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*-[-|]+\s*$", lines[j]):
                header.append(lines[j])
                j += 1
            if j >= len(lines):
                raise ChromatogramFileError("peak table header without its ----|---- ruler", file=name, line=i + 1)
            spans = [(mm.start(), mm.end()) for mm in re.finditer(r"-+", lines[j])]
            cols: list[tuple[str, int, int]] = []
            for s, e in spans:
                s0 = s if not cols else cols[-1][2]
                label = " ".join(h[s0:e + 1].strip() for h in header).strip()
                cols.append((label, s0, e + 1))
            peaks, j = _chemstation_rows(lines, j + 1, cols, name)
            area_units = next((c[0] for c in cols if c[0].startswith("Area") and "%" not in c[0]), None)
            tables.append(PeakTable(channel, tuple(peaks), area_units))
            i = j
            continue
        i += 1
    if not tables:
        raise ChromatogramFileError("no peak table (no 'Peak RetTime' header) in ChemStation report", file=name)
    return ChromatogramFile("chemstation-report", name, (), tuple(tables))


def _find(cols: list[tuple[str, int, int]], pred: Callable[[str], bool]) -> int | None:
    for k, (label, _, _) in enumerate(cols):
        if pred(label):
            return k
    return None


def _chemstation_rows(lines: list[str], start: int, cols: list[tuple[str, int, int]],
                      name: str) -> tuple[list[ExportedPeak], int]:
    i_rt = _find(cols, lambda s: s.startswith("RetTime"))
    i_area = _find(cols, lambda s: s.startswith("Area") and "%" not in s)
    i_height = _find(cols, lambda s: s.startswith("Height"))
    i_type = _find(cols, lambda s: s.startswith("Type"))
    i_name = _find(cols, lambda s: s.startswith("Name") or s.startswith("Compound"))
    if i_rt is None or i_area is None:
        raise ChromatogramFileError("peak table lacks RetTime or Area columns", file=name, line=start)
    peaks: list[ExportedPeak] = []
    j = start
    while j < len(lines):
        row = lines[j]
        if not row.strip() or row.lstrip().startswith("Totals") or re.match(r"^\s*-[-|]+\s*$", row):
            break

        def cell(k: int | None, row: str = row) -> str:
            if k is None:
                return ""
            _, s, e = cols[k]
            # the last column runs to the end of the line
            return row[s:e] if k < len(cols) - 1 else row[s:]

        rt = _num(cell(i_rt), name, j + 1, "RetTime")
        area = _num(cell(i_area), name, j + 1, "Area")
        height = _opt_num(cell(i_height)) if i_height is not None else None
        peaks.append(ExportedPeak(rt, area, height, None, None, cell(i_name).strip() or None,
                                  cell(i_type).strip() or None))
        j += 1
    return peaks, j


def parse_chemstation_csv(text: str, name: str) -> ChromatogramFile:
    """ChemStation ``REPORT0N.CSV`` (N = signal number): Peak#, RetTime, Type, Width, Area, Height, Area%."""
    m = re.search(r"REPORT(\d\d)\.CSV$", name, re.I)
    channel = f"Signal {int(m.group(1))}" if m else "Signal 1"
    peaks: list[ExportedPeak] = []
    reader = csv.reader(io.StringIO(text))
    for cells in reader:
        line = reader.line_num
        cells = [c.strip() for c in cells]
        if not cells or not any(cells):
            continue
        if _opt_num(cells[0]) is None:
            continue  # header or title line
        if len(cells) < 6:
            raise ChromatogramFileError(f"expected ≥ 6 fields (Peak#, RetTime, Type, Width, Area, Height), got {len(cells)}",
                                        file=name, line=line)
        rt = _num(cells[1], name, line, "RetTime")
        area = _num(cells[4], name, line, "Area")
        height = _num(cells[5], name, line, "Height")
        peaks.append(ExportedPeak(rt, area, height, None, None, None, cells[2] or None))
    if not peaks:
        raise ChromatogramFileError("no peak rows in ChemStation CSV report", file=name)
    return ChromatogramFile("chemstation-csv", name, (), (PeakTable(channel, tuple(peaks)),))


# --------------------------------------------------------------------------- LabSolutions ASCII

def parse_labsolutions(text: str, name: str) -> ChromatogramFile:
    """Shimadzu LabSolutions ASCII: ``[LC|GC Chromatogram(detector)]`` sections with
    ``Interval(msec)``, ``# of Points``, ``Intensity Multiplier`` and ``R.Time (min),Intensity`` rows."""
    lines = text.splitlines()
    traces: list[Trace] = []
    tables: list[PeakTable] = []
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _SECTION.match(lines[i].strip())
        if not m:
            i += 1
            continue
        title = m.group(1)
        cm = _CHROM_SECTION.match(title)
        pm = _PEAK_SECTION.match(title)
        if cm:
            trace, i = _ls_chromatogram(lines, i + 1, f"{cm.group(1)} {cm.group(2)}", name)
            traces.append(trace)
        elif pm:
            table, i = _ls_peak_table(lines, i + 1, pm.group(1), name)
            tables.append(table)
        else:
            i += 1
            while i < len(lines) and not _SECTION.match(lines[i].strip()):
                kv = _split(lines[i])
                if len(kv) >= 2 and kv[0]:
                    meta[f"{title}.{kv[0]}"] = kv[1]
                i += 1
    if not traces and not tables:
        raise ChromatogramFileError("no [LC/GC Chromatogram(...)] or [Peak Table(...)] section", file=name)
    return ChromatogramFile("labsolutions-ascii", name, tuple(traces), tuple(tables), meta)


def _split(line: str) -> list[str]:
    return [c.strip() for c in (line.split("\t") if "\t" in line else line.split(","))]


def _ls_chromatogram(lines: list[str], i: int, channel: str, name: str) -> tuple[Trace, int]:
    keys: dict[str, str] = {}
    times: list[float] = []
    values: list[float] = []
    in_data = False
    while i < len(lines) and not _SECTION.match(lines[i].strip()):
        raw = lines[i]
        i += 1
        if not raw.strip():
            continue
        cells = _split(raw)
        if not in_data:
            if cells[0].startswith("R.Time"):
                in_data = True
                continue
            if len(cells) >= 2:
                keys[cells[0]] = cells[1]
            continue
        if len(cells) < 2:
            raise ChromatogramFileError("data row needs R.Time and Intensity", file=name, line=i)
        times.append(_num(cells[0], name, i, "R.Time (min)"))
        values.append(_num(cells[1], name, i, "Intensity"))
    if not in_data:
        raise ChromatogramFileError(f"section for {channel} has no 'R.Time (min)' data header", file=name, line=i)
    mult = _opt_num(keys.get("Intensity Multiplier", "1")) or 1.0
    expected = keys.get("# of Points")
    if expected is not None and _opt_num(expected) is not None and int(float(expected)) != len(values):
        raise ChromatogramFileError(f"'# of Points' says {expected} but {len(values)} rows were found",
                                    file=name, line=i, field="# of Points")
    t = np.array(times)
    if t.size > 1 and np.any(np.diff(t) <= 0):
        k = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise ChromatogramFileError("retention times are not increasing", file=name, field="R.Time (min)",
                                    line=i - len(values) + k + 1)
    return Trace(channel, t, np.array(values) * mult, keys.get("Intensity Units")), i


def _ls_peak_table(lines: list[str], i: int, channel: str, name: str) -> tuple[PeakTable, int]:
    header: list[str] | None = None
    peaks: list[ExportedPeak] = []
    while i < len(lines) and not _SECTION.match(lines[i].strip()):
        cells = _split(lines[i])
        i += 1
        if header is None:
            if cells and cells[0].startswith("Peak#"):
                header = cells
            continue
        if not any(cells):
            continue
        row = dict(zip(header, cells, strict=False))
        rt = _num(row.get("R.Time", ""), name, i, "R.Time")
        peaks.append(ExportedPeak(rt, _opt_num(row.get("Area", "")), _opt_num(row.get("Height", "")),
                                  _opt_num(row.get("I.Time", "")), _opt_num(row.get("F.Time", "")),
                                  (row.get("Name") or None)))
    return PeakTable(channel, tuple(peaks)), i


# --------------------------------------------------------------------------- CSV time,signal

def parse_time_signal_csv(text: str, name: str) -> ChromatogramFile:
    """Plain CSV ``time,signal`` (time in minutes); a header line naming the columns is optional."""
    reader = csv.reader(io.StringIO(text))
    ti, si = 0, 1
    times: list[float] = []
    values: list[float] = []
    first = True
    for cells in reader:
        line = reader.line_num
        if not cells or not any(c.strip() for c in cells):
            continue
        if first:
            first = False
            low = [c.strip().lower() for c in cells]
            if _opt_num(cells[0]) is None:
                if "time" in low and "signal" in low:
                    ti, si = low.index("time"), low.index("signal")
                elif len(low) < 2:
                    raise ChromatogramFileError("expected columns time,signal", file=name, line=line)
                continue
        if len(cells) <= max(ti, si):
            raise ChromatogramFileError("expected two fields time,signal", file=name, line=line)
        times.append(_num(cells[ti], name, line, "time"))
        values.append(_num(cells[si], name, line, "signal"))
    if len(times) < 3:
        raise ChromatogramFileError("not a chromatogram: fewer than 3 time,signal rows", file=name)
    t = np.array(times)
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        raise ChromatogramFileError("time is not increasing", file=name, field="time")
    return ChromatogramFile("csv", name, (Trace("signal", t, np.array(values)),))
