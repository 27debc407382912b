"""Shimadzu LabSolutions / LCsolution / GCsolution ASCII export (versions 1.25 to 5.98 seen): every
``[LC|GC Chromatogram(detector)]`` section as a trace, every ``[Peak Table(detector)]`` as the data
system's own integration of that detector (linked to its trace), the sample and method fields."""

from __future__ import annotations

import re

import numpy as np

from drivers.files.errors import ChromatogramFileError
from drivers.files.model import ChromatogramFile, ExportedPeak, PeakTable, Trace, with_sample
from drivers.files.text import cells as _split
from drivers.files.text import lines as split_lines
from drivers.files.text import number as _num
from drivers.files.text import opt_number as _opt_num
from drivers.files.text import vendor_value

SECTION = re.compile(r"^\[(.+)\]\s*$")
CHROM_SECTION = re.compile(r"^(LC|GC) Chromatogram\((.*)\)$")
_PEAK_SECTION = re.compile(r"^Peak Table\((.*)\)$")


def parse_labsolutions(text: str, name: str, encoding: str | None = None) -> ChromatogramFile:
    """Shimadzu LabSolutions ASCII: ``[LC|GC Chromatogram(detector)]`` sections with
    ``Interval(msec)``, ``# of Points``, ``Intensity Multiplier`` and ``R.Time (min),Intensity`` rows;
    ``[Peak Table(detector)]`` (areas in raw counts·s, i.e. before the multiplier)."""
    lines = split_lines(text)
    traces: list[tuple[Trace, float]] = []
    tables: list[PeakTable] = []
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = SECTION.match(lines[i].strip())
        if not m:
            i += 1
            continue
        title = m.group(1)
        cm = CHROM_SECTION.match(title)
        pm = _PEAK_SECTION.match(title)
        if cm:
            trace, mult, i = _ls_chromatogram(lines, i + 1, f"{cm.group(1)} {cm.group(2)}", name)
            traces.append((trace, mult))
        elif pm:
            table, i = _ls_peak_table(lines, i + 1, pm.group(1), name)
            tables.append(table)
        else:
            i = _ls_keys(lines, i + 1, title, meta)
    if not traces and not tables:
        raise ChromatogramFileError("no [LC/GC Chromatogram(...)] or [Peak Table(...)] section", file=name)
    linked = tuple(_link(tr, mult, tables) for tr, mult in traces)
    return with_sample("labsolutions-ascii", name, linked, tuple(tables), meta,
                       sample_id=meta.get("Sample Information.Sample ID"),
                       sample_name=meta.get("Sample Information.Sample Name"),
                       injected_at=meta.get("Sample Information.Acquired"),
                       method=meta.get("Original Files.Method File"), encoding=encoding)


def _ls_keys(lines: list[str], i: int, title: str, meta: dict[str, str]) -> int:
    while i < len(lines) and not SECTION.match(lines[i].strip()):
        kv = _split(lines[i])
        if len(kv) >= 2 and kv[0]:
            meta[f"{title}.{kv[0]}"] = kv[1]
        i += 1
    return i


def _link(trace: Trace, mult: float, tables: list[PeakTable]) -> Trace:
    """The trace with the peak table of its detector: ``Detector A-Ch1`` has ``Peak Table(Detector
    A-Ch1)`` or, in single-channel detectors and 5.9x exports, ``Peak Table(Detector A)``."""
    detector = trace.channel.split(" ", 1)[1] if " " in trace.channel else trace.channel
    for t in tables:
        if t.channel == detector or f"{t.channel}-Ch1" == detector:
            units = {(trace.units, 1.0): f"{trace.units}·s", ("mV", 0.001): "µV·s"}.get((trace.units, mult))
            table = PeakTable(t.channel, t.peaks, units, mult)
            return Trace(trace.channel, trace.times_min, trace.signal, trace.units, table)
    return trace


def _ls_chromatogram(lines: list[str], i: int, channel: str, name: str) -> tuple[Trace, float, int]:
    keys: dict[str, str] = {}
    times: list[float] = []
    values: list[float] = []
    in_data = False
    while i < len(lines) and not SECTION.match(lines[i].strip()):
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
    if len(values) < 3:
        raise ChromatogramFileError(f"section for {channel} has fewer than 3 data rows", file=name, line=i)
    t = np.array(times)
    if np.any(np.diff(t) <= 0):
        k = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise ChromatogramFileError("retention times are not increasing", file=name, field="R.Time (min)",
                                    line=i - len(values) + k + 1)
    return Trace(channel, t, np.array(values) * mult, keys.get("Intensity Units")), mult, i


def _ls_peak_table(lines: list[str], i: int, channel: str, name: str) -> tuple[PeakTable, int]:
    header: list[str] | None = None
    declared: float | None = None
    peaks: list[ExportedPeak] = []
    while i < len(lines) and not SECTION.match(lines[i].strip()):
        cells = _split(lines[i])
        i += 1
        if header is None:
            if cells and cells[0] == "# of Peaks" and len(cells) > 1:
                declared = _opt_num(cells[1])
            if cells and cells[0].startswith("Peak#"):
                header = cells
            continue
        if not any(cells):
            continue
        row = dict(zip(header, cells, strict=False))
        rt = _num(row.get("R.Time", ""), name, i, "R.Time")
        peaks.append(ExportedPeak(rt, vendor_value(row.get("Area", "")), vendor_value(row.get("Height", "")),
                                  _opt_num(row.get("I.Time", "")), _opt_num(row.get("F.Time", "")),
                                  row.get("Name") or None, (row.get("Mark") or "").strip() or None))
    if declared is not None and int(declared) != len(peaks):
        raise ChromatogramFileError(f"'# of Peaks' says {int(declared)} but {len(peaks)} rows were found",
                                    file=name, line=i, field="# of Peaks")
    return PeakTable(channel, tuple(peaks)), i
