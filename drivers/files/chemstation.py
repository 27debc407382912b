"""Agilent ChemStation / OpenLab: binary ``.ch`` signal files (read with rainbow-api, LGPL-3.0, used as a
library), ``.D`` folders (every ``.ch`` with the folder's own report), ``Report.TXT`` and
``REPORT0N.CSV`` peak tables (UTF-16 with BOM)."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from drivers.files.errors import ChromatogramFileError
from drivers.files.model import ChromatogramFile, ExportedPeak, PeakTable, Trace, with_sample
from drivers.files.text import decode
from drivers.files.text import lines as split_lines
from drivers.files.text import number as _num
from drivers.files.text import vendor_value as _opt_num

_SIGNAL = re.compile(r"^\s*Signal\s+(\d+)\s*:\s*(.*?)\s*$")
#: the version string a ChemStation binary signal file starts with (after its length byte)
CH_VERSIONS = (b"\x03179", b"\x03181", b"\x0230", b"\x03130")


# --------------------------------------------------------------------------- ChemStation

def parse_chemstation_report(text: str, name: str) -> ChromatogramFile:
    """ChemStation ``Report.TXT`` peak tables: columns located from the ``----|----|`` ruler."""
    lines = split_lines(text)
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
    meta = _report_header(lines)
    return with_sample("chemstation-report", name, (), tuple(tables), meta, sample_id=None,
                       sample_name=meta.get("Sample Name"), injected_at=meta.get("Injection Date"),
                       method=meta.get("Method"))


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
        area: float | None = _num(cell(i_area), name, j + 1, "Area")
        area = None if area == -1 else area
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
    reader = csv.reader(io.StringIO("\n".join(split_lines(text))))
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
        height = _opt_num(cells[5])
        peaks.append(ExportedPeak(rt, None if area == -1 else area, height, None, None, None,
                                  cells[2].strip() or None))
    if not peaks:
        raise ChromatogramFileError("no peak rows in ChemStation CSV report", file=name)
    return ChromatogramFile("chemstation-csv", name, (), (PeakTable(channel, tuple(peaks)),))



def _report_header(lines: list[str]) -> dict[str, str]:
    """``Key : value`` pairs of a Report.TXT header (``Sample Name: x`` too), up to the first table."""
    meta: dict[str, str] = {}
    for ln in lines[:40]:
        if re.match(r"^\s*Peak\s+RetTime", ln):
            break
        for m in re.finditer(r"([A-Z][A-Za-z. ]+?)\s*:\s*(.*?)(?=\s{3,}[A-Z][A-Za-z. ]+\s*:|$)", ln):
            meta.setdefault(m.group(1).strip(), m.group(2).strip())
    return meta


def read_ch(raw: bytes, name: str) -> ChromatogramFile:
    """One ChemStation/OpenLab binary ``.ch`` signal file (rainbow-api does the decoding)."""
    trace, meta = _ch_trace(raw, name, Path(name).stem)
    return with_sample("chemstation-ch", name, (trace,), (), meta, sample_id=None,
                       sample_name=meta.get("notebook"), injected_at=meta.get("date"), method=meta.get("method"))


def _ch_trace(raw: bytes, name: str, channel: str) -> tuple[Trace, dict[str, str]]:
    from rainbow.agilent import chemstation  # rainbow-api (LGPL-3.0-or-later), a dependency

    if raw[:4] not in CH_VERSIONS and raw[:3] not in CH_VERSIONS:
        raise ChromatogramFileError("not a ChemStation binary signal file (no 179/181/30/130 version "
                                    "at the start)", file=name, byte_offset=0)
    with tempfile.TemporaryDirectory(prefix="lims-ch-") as tmp:
        path = Path(tmp) / "signal.ch"
        path.write_bytes(raw)
        try:
            df: Any = chemstation.parse_ch(str(path))
        except Exception as exc:  # rainbow raises struct.error / ValueError / IndexError on a cut file
            raise ChromatogramFileError(f"unreadable ChemStation signal file ({type(exc).__name__}: {exc})",
                                        file=name) from None
    if df is None:
        raise ChromatogramFileError("ChemStation signal file of a layout rainbow-api does not read", file=name,
                                    byte_offset=0)
    x = np.asarray(df.xlabels, dtype=float).ravel()
    y = np.asarray(df.data, dtype=float)[:, 0]
    # rainbow computes the time axis of a compressed (181) file from its size: one point short
    if abs(x.size - y.size) > 1 or min(x.size, y.size) < 3:
        raise ChromatogramFileError(f"time axis ({x.size}) and signal ({y.size}) disagree: a cut file",
                                    file=name)
    n = min(x.size, y.size)
    if not (np.all(np.isfinite(y[:n])) and np.all(np.diff(x[:n]) > 0)):
        raise ChromatogramFileError("signal has non-finite values or times that do not increase", file=name)
    meta = {str(k): str(v) for k, v in dict(df.metadata).items()}
    return Trace(channel, x[:n], y[:n], meta.get("unit") or None), meta


def read_agilent_folder(folder: Path) -> ChromatogramFile:
    """A ChemStation/OpenLab ``.D`` folder: a trace per ``.ch`` file, each beside the folder's own peak
    table for that signal (``Report.TXT``, else ``REPORT0N.CSV``), matched by detector name."""
    name = str(folder)
    chs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".ch" and p.is_file())
    if not chs:
        raise ChromatogramFileError("no .ch signal file in this .D folder", file=name)
    tables = _folder_tables(folder)
    traces: list[Trace] = []
    meta: dict[str, str] = {}
    for ch in chs:
        trace, m = _ch_trace(ch.read_bytes(), str(ch), ch.stem)
        meta = meta or m
        key = _detector_key(ch.stem)
        table = next((t for t in tables if _detector_key(t.channel) == key), None)
        traces.append(Trace(trace.channel, trace.times_min, trace.signal, trace.units, table))
    return with_sample("chemstation-d", name, tuple(traces), tables, meta, sample_id=None,
                       sample_name=meta.get("notebook"), injected_at=meta.get("date"), method=meta.get("method"))


def _folder_tables(folder: Path) -> tuple[PeakTable, ...]:
    for p in folder.iterdir():
        if p.name.lower() == "report.txt":
            text, _ = decode(p.read_bytes(), str(p))
            return parse_chemstation_report(text, str(p)).peak_tables
    names: dict[str, str] = {}
    out: list[PeakTable] = []
    for p in sorted(folder.iterdir()):
        if p.name.upper() == "REPORT00.CSV":  # "Signal 1","FID1 A, ": the signals' names
            text, _ = decode(p.read_bytes(), str(p))
            for row in csv.reader(io.StringIO("\n".join(split_lines(text)))):
                if len(row) >= 2 and re.match(r"Signal \d+$", row[0]):
                    names[row[0]] = f"{row[0]}: {row[1].strip()}"
    for p in sorted(folder.iterdir()):
        if re.match(r"REPORT0[1-9]\.CSV$", p.name, re.I):
            text, _ = decode(p.read_bytes(), str(p))
            for t in parse_chemstation_csv(text, str(p)).peak_tables:
                out.append(PeakTable(names.get(t.channel, t.channel), t.peaks, t.area_units))
    return tuple(out)


def _detector_key(channel: str) -> str:
    """``FID1A`` (file stem) and ``Signal 1: FID1 A,`` (report) → ``FID1A``; ``mwd1A`` → ``MWD1A``."""
    s = channel.split(":", 1)[1] if ":" in channel else channel
    s = s.split(",", 1)[0]
    return re.sub(r"\s+", "", s).upper()
