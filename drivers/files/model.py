"""What an export file holds: traces and peak tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Trace:
    """One detector channel: ``times_min`` and ``signal`` arrays of equal length."""

    channel: str
    times_min: np.ndarray
    signal: np.ndarray
    units: str | None = None


@dataclass(frozen=True)
class ExportedPeak:
    retention_time_min: float
    area: float | None
    height: float | None = None
    start_min: float | None = None
    end_min: float | None = None
    name: str | None = None
    peak_type: str | None = None


@dataclass(frozen=True)
class PeakTable:
    channel: str
    peaks: tuple[ExportedPeak, ...]
    area_units: str | None = None


@dataclass(frozen=True)
class ChromatogramFile:
    source_format: str
    path: str
    traces: tuple[Trace, ...] = ()
    peak_tables: tuple[PeakTable, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
