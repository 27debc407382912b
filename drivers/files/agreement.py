"""The project's integration beside the data system's own peak table: which major peaks disagree.

A peak is major when it holds ≥ ``major_fraction`` (5 %) of its channel's area (in the vendor's table,
or in ours for a peak the vendor did not list). Each vendor peak is paired with our nearest peak in
retention time (one to one, largest vendor peaks first, within ``match_window_min``); a major pair is
flagged when the areas differ by more than ``area_tolerance`` (10 %, relative to the vendor's area) or
the retention times by more than ``rt_tolerance_min`` (0.05 min). A major peak without a partner on the
other side is flagged too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.files.model import PeakTable

MAJOR_FRACTION = 0.05
AREA_TOLERANCE = 0.10
RT_TOLERANCE_MIN = 0.05
MATCH_WINDOW_MIN = 0.25


@dataclass(frozen=True)
class PeakAgreement:
    """One vendor peak and its partner in our integration (areas in trace units × s)."""

    vendor_rt_min: float | None
    vendor_area: float | None
    rt_min: float | None
    area: float | None
    major: bool
    flagged: bool

    @property
    def area_difference(self) -> float | None:
        """(ours − vendor) / vendor, or None without both areas."""
        if self.area is None or not self.vendor_area:
            return None
        return (self.area - self.vendor_area) / self.vendor_area

    @property
    def rt_difference_min(self) -> float | None:
        if self.rt_min is None or self.vendor_rt_min is None:
            return None
        return self.rt_min - self.vendor_rt_min


def compare_with_vendor(ours: Sequence[tuple[float, float]], table: PeakTable, *,
                        major_fraction: float = MAJOR_FRACTION, area_tolerance: float = AREA_TOLERANCE,
                        rt_tolerance_min: float = RT_TOLERANCE_MIN,
                        match_window_min: float = MATCH_WINDOW_MIN, normalize: bool = False) -> list[PeakAgreement]:
    """Pairs of (vendor peak, our peak) in vendor RT order, then our major peaks the vendor lacks.
    ``ours`` is (retention time in min, area in trace units × s) per peak. ``normalize`` (implied by a table
    whose ``area_factor`` is None): compare each side's areas as percent of the sum over the paired peaks (for a table whose area unit the file does
    not state, e.g. Varian AIA or the MSD integrator's RESULTS.CSV, which also covers only a window)."""
    factor = table.area_factor
    normalize = normalize or factor is None
    vendor = [(p.retention_time_min, p.area * (factor or 1.0)) for p in table.peaks if p.area is not None]
    v_total = sum(a for _, a in vendor if a > 0) or 1.0
    o_total = sum(a for _, a in ours if a > 0) or 1.0
    partner = _pair(vendor, ours, match_window_min)
    if normalize and partner:  # each side's areas as percent of its paired peaks' sum
        vendor, v_total = _percent(vendor, list(partner), v_total)
        ours, o_total = _percent(ours, list(partner.values()), o_total)
    out: list[PeakAgreement] = []
    for vi, (rt, area) in enumerate(vendor):
        major = area >= major_fraction * v_total
        k = partner.get(vi)
        if k is None:
            out.append(PeakAgreement(rt, area, None, None, major, major))
            continue
        o_rt, o_area = ours[k]
        bad = abs(o_area - area) > area_tolerance * abs(area) or abs(o_rt - rt) > rt_tolerance_min
        out.append(PeakAgreement(rt, area, o_rt, o_area, major, major and bad))
    taken = set(partner.values())
    out += [PeakAgreement(None, None, o_rt, o_area, True, True) for k, (o_rt, o_area) in enumerate(ours)
            if k not in taken and o_area >= major_fraction * o_total]
    return out


def _pair(vendor: Sequence[tuple[float, float]], ours: Sequence[tuple[float, float]],
          window: float) -> dict[int, int]:
    """Vendor peak index → our peak index: the nearest in retention time within ``window``, one to one,
    the largest vendor peaks choosing first."""
    taken: set[int] = set()
    partner: dict[int, int] = {}
    for vi in sorted(range(len(vendor)), key=lambda k: -vendor[k][1]):
        rt = vendor[vi][0]
        near = [(abs(o_rt - rt), k) for k, (o_rt, _) in enumerate(ours) if k not in taken and abs(o_rt - rt) <= window]
        if near:
            k = min(near)[1]
            taken.add(k)
            partner[vi] = k
    return partner


def _percent(peaks: Sequence[tuple[float, float]], paired: list[int],
             total: float) -> tuple[list[tuple[float, float]], float]:
    """Areas (and the channel total) as percent of the paired peaks' sum."""
    ref = sum(peaks[i][1] for i in paired) or 1.0
    return [(rt, 100.0 * a / ref) for rt, a in peaks], 100.0 * total / ref
