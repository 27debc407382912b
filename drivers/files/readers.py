"""Format detection and the entry points. Every error names the file and the line or byte offset."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from drivers.files.andi import read_andi_netcdf
from drivers.files.chemstation import (
    CH_VERSIONS,
    parse_chemstation_csv,
    parse_chemstation_report,
    read_agilent_folder,
    read_ch,
)
from drivers.files.errors import ChromatogramFileError
from drivers.files.labsolutions import CHROM_SECTION, parse_labsolutions
from drivers.files.model import ChromatogramFile, Trace
from drivers.files.text import decode
from drivers.files.text import lines as split_lines
from drivers.files.text import number as _num
from drivers.files.text import opt_number as _opt_num
from drivers.files.vendor_text import (
    CHROMELEON_START,
    looks_like_arw,
    looks_like_masshunter,
    parse_arw,
    parse_chromeleon,
    parse_masshunter_results,
    parse_masshunter_tic,
    read_masshunter_folder,
)

_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02")
#: HDF5 (netCDF-4) signature: AIA files are netCDF-3 (classic) by the standard
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def read_chromatogram_file(path: str | Path) -> ChromatogramFile:
    """Read any supported export (a file, or an Agilent ``.D`` folder); raises ChromatogramFileError for
    unreadable or malformed input."""
    p = Path(path)
    name = str(p)
    if p.is_dir():
        try:
            return _read_folder(p)
        except ChromatogramFileError:
            raise
        except Exception as exc:  # OSError on a vanished file, a reader's failure on malformed content
            raise ChromatogramFileError(f"unreadable export folder ({type(exc).__name__}: {exc})",
                                        file=name) from None
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ChromatogramFileError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    return read_chromatogram_bytes(raw, name)


def _read_folder(p: Path) -> ChromatogramFile:
    names = {c.name.lower() for c in p.iterdir()}
    if any(n.endswith(".ch") for n in names):
        return read_agilent_folder(p)
    if "tic_front.csv" in names:
        return read_masshunter_folder(p)
    raise ChromatogramFileError("folder holds no .ch signal file and no tic_front.csv", file=str(p))


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
    if raw[:8] == _HDF5_MAGIC:
        raise ChromatogramFileError("netCDF-4/HDF5 file: AIA chromatography files are classic netCDF "
                                    "(export as AIA/ANDI again)", file=name, byte_offset=0)
    if raw[:4] in CH_VERSIONS or raw[:3] in CH_VERSIONS or p.suffix.lower() == ".ch":
        return read_ch(raw, name)
    text, encoding = decode(raw, name)
    if "\x00" in text:
        raise ChromatogramFileError("binary content in a text export", file=name,
                                    byte_offset=raw.find(b"\x00"))
    return _read_text(text, name, encoding)


def _read_text(text: str, name: str, encoding: str) -> ChromatogramFile:
    p = Path(name)
    if "[Header]" in text or re.search(r"^\[(LC|GC) Chromatogram\(", text, re.M) or CHROM_SECTION.search(text):
        return parse_labsolutions(text, name, encoding)
    if CHROMELEON_START.match(text):
        return parse_chromeleon(text, name, encoding)
    if p.suffix.lower() == ".arw" or looks_like_arw(text):
        return parse_arw(text, name, encoding)
    if looks_like_masshunter(text):
        return parse_masshunter_tic(text, name)
    if text.lstrip().startswith("[contents]") and re.search(r"^Header=,", text, re.M):
        return ChromatogramFile("masshunter-results", name, (), (parse_masshunter_results(text, name),))
    if re.match(r"REPORT\d\d\.CSV$", p.name, re.I):
        return parse_chemstation_csv(text, name)
    if "RetTime" in text and re.search(r"^[-|\s]{10,}$", text, re.M):
        return parse_chemstation_report(text, name)
    return parse_time_signal_csv(text, name)


# --------------------------------------------------------------------------- CSV time,signal

def parse_time_signal_csv(text: str, name: str) -> ChromatogramFile:
    """Plain CSV ``time,signal`` (time in minutes); a header line naming the columns is optional."""
    reader = csv.reader(io.StringIO("\n".join(split_lines(text))))  # any line ends, CR-only too
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
