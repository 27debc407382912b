"""Text exports of Thermo Chromeleon (6.8 and 7.x, comma or period decimals), Waters Empower ``.arw``
and Agilent MSD/MassHunter CSV (``tic_front.csv`` and the integrator's ``RESULTS.CSV``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from drivers.files.errors import ChromatogramFileError
from drivers.files.model import ChromatogramFile, ExportedPeak, PeakTable, Trace, with_sample
from drivers.files.text import decode, opt_number, vendor_value
from drivers.files.text import lines as split_lines
from drivers.files.text import number as _num

CHROMELEON_START = re.compile(r"^\ufeff?(Filepath|File Path)\t")
_CHROMELEON_DATA = re.compile(r"^Time\s*\(min\)\tStep\s*\((s|sec)\)\tValue\s*\((.*)\)\s*$")
_MASSHUNTER_START = "Start of data points"


def _checked_trace(channel: str, t: list[float], y: list[float], units: str | None, name: str,
                   first_line: int) -> Trace:
    if len(t) < 3:
        raise ChromatogramFileError(f"fewer than 3 data rows for {channel}", file=name, line=first_line)
    ta = np.array(t)
    bad = np.flatnonzero(np.diff(ta) <= 0)
    if bad.size:
        raise ChromatogramFileError("times are not increasing", file=name, line=first_line + int(bad[0]) + 1,
                                    field="time")
    return Trace(channel, ta, np.array(y), units)


# --------------------------------------------------------------------------- Chromeleon

def parse_chromeleon(text: str, name: str, encoding: str | None = None) -> ChromatogramFile:
    """A Chromeleon text export: ``key<TAB>value`` header lines, then ``Time (min)<TAB>Step (s)<TAB>
    Value (unit)`` and the data rows (6.8: ``Raw Data:`` / ``Time(min)``). The decimal separator is
    the one the data rows use (a comma on German/Chinese Windows)."""
    lines = split_lines(text)
    meta, start, units = _chromeleon_header(lines, name)
    comma = start < len(lines) and "," in lines[start].split("\t", 1)[0]
    t: list[float] = []
    y: list[float] = []
    for k in range(start, len(lines)):
        row = lines[k].split("\t")
        if not lines[k].strip():
            continue
        if len(row) < 3:
            raise ChromatogramFileError("data row needs time, step and value", file=name, line=k + 1)
        t.append(_num(row[0], name, k + 1, "Time (min)", comma_decimal=comma))
        y.append(_num(row[2], name, k + 1, "Value", comma_decimal=comma))
    declared = opt_number(meta.get("Data Points", ""))
    if declared is not None and int(declared) != len(t):
        raise ChromatogramFileError(f"'Data Points' says {int(declared)} but {len(t)} rows were found",
                                    file=name, line=len(lines), field="Data Points")
    trace = _checked_trace(meta.get("Channel") or "signal", t, y, units, name, start + 1)
    date = meta.get("Injection Date") or meta.get("Date")
    time = meta.get("Injection Time") or meta.get("Time")
    return with_sample("chromeleon-text", name, (trace,), (), meta, sample_id=meta.get("Sample ID"),
                       sample_name=meta.get("Injection") or meta.get("Sample"),
                       injected_at=" ".join(v for v in (date, time) if v) or None,
                       method=meta.get("Instrument Method") or meta.get("PGM file"), encoding=encoding)


def _chromeleon_header(lines: list[str], name: str) -> tuple[dict[str, str], int, str | None]:
    """(header fields, index of the first data row, signal unit)."""
    meta: dict[str, str] = {}
    for i, ln in enumerate(lines):
        m = _CHROMELEON_DATA.match(ln.strip("\ufeff").replace("Time(min)", "Time (min)"))
        if m:
            return meta, i + 1, m.group(2).strip() or None
        kv = ln.split("\t")
        key = kv[0].strip().lstrip("\ufeff")
        if len(kv) >= 2 and key and key not in meta:
            meta[key] = kv[1].strip()
    raise ChromatogramFileError("Chromeleon export without its 'Time (min) / Step / Value' data header", file=name)


# --------------------------------------------------------------------------- Empower .arw

def looks_like_arw(text: str) -> bool:
    """Empower ``.arw``: a line of quoted tab-separated field names, a line of quoted values, then
    ``time<TAB>value`` rows."""
    head = split_lines(text[:4096])
    return len(head) >= 3 and head[0].startswith('"') and "\t" in head[0] and head[1].startswith('"')


def parse_arw(text: str, name: str, encoding: str | None = None) -> ChromatogramFile:
    lines = split_lines(text)
    keys = [c.strip().strip('"') for c in lines[0].split("\t")]
    values = [c.strip().strip('"') for c in lines[1].split("\t")]
    if len(values) != len(keys):
        raise ChromatogramFileError(f"header names {len(keys)} fields but its values line has {len(values)}",
                                    file=name, line=2)
    meta = dict(zip(keys, values, strict=True))
    t: list[float] = []
    y: list[float] = []
    for k in range(2, len(lines)):
        if not lines[k].strip():
            continue
        row = lines[k].split("\t")
        if len(row) < 2:
            raise ChromatogramFileError("data row needs time and value", file=name, line=k + 1)
        t.append(_num(row[0], name, k + 1, "time"))
        y.append(_num(row[1], name, k + 1, "value"))
    trace = _checked_trace(meta.get("Channel") or "signal", t, y, meta.get("Units") or None, name, 3)
    return with_sample("empower-arw", name, (trace,), (), meta,
                       sample_id=meta.get("Injection Id") or meta.get("SampleID"),
                       sample_name=meta.get("SampleName") or meta.get("Sample Name"),
                       injected_at=meta.get("Date Acquired") or meta.get("Injection Date"),
                       method=meta.get("Instrument Method Name") or meta.get("Method Set Name"), encoding=encoding)


# --------------------------------------------------------------------------- MSD / MassHunter CSV

def looks_like_masshunter(text: str) -> bool:
    head = split_lines(text[:2048])
    return len(head) > 2 and head[1].strip() == _MASSHUNTER_START


def parse_masshunter_tic(text: str, name: str) -> ChromatogramFile:
    """``tic_front.csv``: the data file and acquisition time, ``Start of data points``, ``time,counts``."""
    lines = split_lines(text)
    t: list[float] = []
    y: list[float] = []
    for k in range(2, len(lines)):
        if not lines[k].strip():
            continue
        row = lines[k].split(",")
        if len(row) < 2:
            raise ChromatogramFileError("data row needs time,abundance", file=name, line=k + 1)
        t.append(_num(row[0], name, k + 1, "time"))
        y.append(_num(row[1], name, k + 1, "abundance"))
    trace = _checked_trace("TIC", t, y, "counts", name, 3)
    m = re.match(r"^(.*?\.D)\s+(.*)$", lines[0].strip(), re.I)
    data_file, acquired = (m.group(1), m.group(2)) if m else (lines[0].strip(), None)
    sample = re.split(r"[\\/]", data_file)[-1][:-2] if data_file.upper().endswith(".D") else None
    return with_sample("masshunter-csv", name, (trace,), (), {"data_file": data_file}, sample_id=None,
                       sample_name=sample, injected_at=acquired, method=None)


def parse_masshunter_results(text: str, name: str) -> PeakTable:
    """``RESULTS.CSV`` of the MSD integrator: ``Header=,"Peak","R.T.",…,"Height","Area",…`` and
    ``N=,`` rows. The file does not state the area unit (on the real export the areas are ≈ 9.9 × the
    trace's counts·s for both peaks), so the table's ``area_factor`` is None: compare relative areas."""
    header: list[str] | None = None
    peaks: list[ExportedPeak] = []
    for k, ln in enumerate(split_lines(text), start=1):
        key, _, rest = ln.partition("=")
        cells = [c.strip().strip('"').strip() for c in rest.split(",")][1:]
        if key.strip() == "Header":
            header = cells
        elif header is not None and key.strip().isdigit():
            row = dict(zip(header, cells, strict=False))
            rt = _num(row.get("R.T.", ""), name, k, "R.T.")
            peaks.append(ExportedPeak(rt, vendor_value(row.get("Area", "")), vendor_value(row.get("Height", "")),
                                      None, None, None, row.get("PK  TY") or None))
    if header is None:
        raise ChromatogramFileError("no 'Header=' line in the integration results", file=name)
    return PeakTable("TIC", tuple(peaks), None, None)


def read_masshunter_folder(folder: Path) -> ChromatogramFile:
    """An MSD ``.D`` folder exported as CSV: ``tic_front.csv`` with ``RESULTS.CSV`` beside it."""
    tic = next(p for p in folder.iterdir() if p.name.lower() == "tic_front.csv")
    text, _ = decode(tic.read_bytes(), str(tic))
    cf = parse_masshunter_tic(text, str(tic))
    res = next((p for p in folder.iterdir() if p.name.upper() == "RESULTS.CSV"), None)
    if res is None:
        return cf
    rtext, _ = decode(res.read_bytes(), str(res))
    table = parse_masshunter_results(rtext, str(res))
    tr = cf.traces[0]
    trace = Trace(tr.channel, tr.times_min, tr.signal, tr.units, table)
    return with_sample("masshunter-csv", str(folder), (trace,), (table,), cf.metadata, sample_id=None,
                       sample_name=cf.sample_name, injected_at=cf.injected_at, method=None)
