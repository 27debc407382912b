"""AIA/ANDI netCDF (ASTM E1947 chromatography; ASTM E2077 mass spectrometry read as its total-ion
chromatogram). Pure: numpy and scipy."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from drivers.files.errors import ChromatogramFileError
from drivers.files.model import ChromatogramFile, ExportedPeak, PeakTable, Trace, with_sample
from drivers.files.text import opt_number as _opt_num

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
        if "ms_template_revision" in content.attrs or "scan_acquisition_time" in content.var:
            return _andi_ms_tic(content)
        _check_retention_unit(content)
        tables = _andi_peak_tables(content)
        traces = _andi_traces(content, tables[0] if tables else None)
        if not traces and not tables:
            raise ChromatogramFileError("no ordinate_values and no peak table in this netCDF file", file=name)
        a = content.attrs
        return with_sample("andi-netcdf", name, traces, tables, a, sample_id=a.get("sample_id"),
                           sample_name=a.get("sample_name"), injected_at=a.get("injection_date_time_stamp"),
                           method=a.get("detection_method_name") or a.get("experiment_title"))
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


def _andi_ms_tic(content: _AndiContent) -> ChromatogramFile:
    """An ANDI-MS file (ASTM E2077) as its total-ion chromatogram: ``total_intensity`` against
    ``scan_acquisition_time`` (s). A file without them is refused, saying it is a mass-spectrometry file."""
    var, name = content.var, content.name
    if "total_intensity" not in var or "scan_acquisition_time" not in var:
        raise ChromatogramFileError("this is an ANDI-MS (mass-spectrometry) file without a total-ion "
                                    "chromatogram (total_intensity, scan_acquisition_time); export the "
                                    "chromatogram as AIA chromatography netCDF", file=name, field="total_intensity")
    y, gone_y = content.numeric("total_intensity")
    t, gone_t = content.numeric("scan_acquisition_time")
    keep = ~(gone_y | gone_t)
    if y.shape != t.shape or keep.sum() < 3:
        raise ChromatogramFileError("ANDI-MS total_intensity and scan_acquisition_time do not make a "
                                    "chromatogram", file=name, field="total_intensity")
    t_min, y = t[keep] / 60.0, y[keep]
    _check_increasing(t_min, name, "scan_acquisition_time")
    a = content.attrs
    trace = Trace("TIC", t_min, y, "counts")
    return with_sample("andi-ms", name, (trace,), (), a, sample_id=a.get("sample_id"),
                       sample_name=a.get("sample_name") or a.get("experiment_title"),
                       injected_at=a.get("experiment_date_time_stamp"), method=None)


def _check_increasing(t: np.ndarray, name: str, field: str) -> None:
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        raise ChromatogramFileError(f"{field}: times are not increasing at index {bad[0] + 1}", file=name,
                                    field=field)


def _andi_traces(content: _AndiContent, table: PeakTable | None) -> tuple[Trace, ...]:
    """The trace of ``ordinate_values`` (none if absent, unless ``dataset_completeness`` declares C1),
    timed by ``raw_data_retention`` (s) when the file has it (irregular sampling, e.g. an MSD TIC),
    else by ``actual_sampling_interval`` after ``actual_delay_time``."""
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
    if "raw_data_retention" in var:
        t_s, gone = content.numeric("raw_data_retention")
        if t_s.shape != y.shape or gone.any():
            raise ChromatogramFileError("raw_data_retention does not give a time for every point", file=name,
                                        field="raw_data_retention")
        t_min: np.ndarray = t_s / 60.0
        _check_increasing(t_min, name, "raw_data_retention")
    else:
        dt = content.scalar("actual_sampling_interval", None)
        if dt is None or dt <= 0:
            raise ChromatogramFileError("actual_sampling_interval is missing or not positive", file=name,
                                        field="actual_sampling_interval")
        delay = content.scalar("actual_delay_time", 0.0) or 0.0
        t_min = (delay + dt * np.arange(y.size)) / 60.0
    channel = attrs.get("detector_name") or "ordinate_values"
    units = attrs.get("detector_unit") or _attr_text(getattr(var["ordinate_values"], "units", b"")) or None
    return (Trace(channel, t_min, y, units, table),)


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
    # -1 is the AIA writers' "not computed" for an area or a height (absent, never a value)
    areas = [None if a == -1 else a for a in col("peak_area")]
    heights = [None if h == -1 else h for h in col("peak_height")]
    starts, ends = col("peak_start_time", 1 / 60), col("peak_end_time", 1 / 60)
    peaks = tuple(ExportedPeak(float(rt[i]), areas[i], heights[i], starts[i], ends[i], names[i])
                  for i in range(rt.size))
    # the AIA template states no unit for peak_area (ChemStation writes detector unit × s, a Varian file
    # seen here ~1.3e5 × AU·s): only relative areas are comparable
    return (PeakTable(content.attrs.get("detector_name") or "peak_table", peaks, None, None),)


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


