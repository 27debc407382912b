"""What an export file holds: traces, peak tables and what the file says about the injection."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ExportedPeak:
    """One row of a data system's own peak table. ``area``/``height`` are None where the table has no
    value (empty cell, or -1: what LabSolutions and ChemStation write for a value never computed)."""

    retention_time_min: float
    area: float | None
    height: float | None = None
    start_min: float | None = None
    end_min: float | None = None
    name: str | None = None
    peak_type: str | None = None


@dataclass(frozen=True)
class PeakTable:
    """A data system's peak table. ``area_factor`` converts its areas to the units of the matching
    trace × seconds (LabSolutions writes areas in raw counts·s, its trace is counts × multiplier); None
    when the file does not state the area unit (AIA, the MSD integrator's RESULTS.CSV): then only
    relative areas can be compared."""

    channel: str
    peaks: tuple[ExportedPeak, ...]
    area_units: str | None = None
    area_factor: float | None = 1.0


@dataclass(frozen=True)
class Trace:
    """One detector channel: ``times_min`` and ``signal`` arrays of equal length; ``peak_table`` is the
    data system's own integration of this channel when the export carries it."""

    channel: str
    times_min: np.ndarray
    signal: np.ndarray
    units: str | None = None
    peak_table: PeakTable | None = None


@dataclass(frozen=True)
class ChromatogramFile:
    """``sample_id``/``sample_name``/``injected_at``/``method`` are as the file writes them (None when
    it does not); ``metadata`` keeps the other header fields; ``encoding`` is how its text was read."""

    source_format: str
    path: str
    traces: tuple[Trace, ...] = ()
    peak_tables: tuple[PeakTable, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    sample_id: str | None = None
    sample_name: str | None = None
    injected_at: str | None = None
    method: str | None = None
    encoding: str | None = None


def with_sample(source_format: str, path: str, traces: tuple[Trace, ...], tables: tuple[PeakTable, ...],
                meta: dict[str, str], *, sample_id: str | None, sample_name: str | None, injected_at: str | None,
                method: str | None, encoding: str | None = None) -> ChromatogramFile:
    """A :class:`ChromatogramFile` whose metadata also carries ``sample_id``/``sample_name`` (the keys
    readers of the metadata use); blank values are None."""
    def clean(v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    sid, sname = clean(sample_id), clean(sample_name)
    meta = dict(meta)
    for key, value in (("sample_id", sid), ("sample_name", sname)):
        if value is not None:
            meta[key] = value
        else:
            meta.pop(key, None)
    return ChromatogramFile(source_format, path, traces, tables, meta, sid, sname, clean(injected_at),
                            clean(method), encoding)
