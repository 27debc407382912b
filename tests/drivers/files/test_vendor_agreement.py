"""The project's integration beside the data system's own peak table, on real exports (tests/data/real)
of three data systems — Shimadzu LabSolutions (1.25 and 5.54), Agilent ChemStation (.D with its
Report.TXT) and an AIA file (Agilent ChemStation DAD export; the AIA template states no unit for
peak_area, so its areas are compared as percent of the paired peaks' sum). Chromeleon and Empower
exports in the corpus carry no peak table, so they cannot be compared here.

Tolerances. A major peak (≥ 5 % of the channel's area) must agree within 10 % in area and 0.05 min in
retention time — the thresholds of issue 13 at which a disagreement is flagged to the analyst. The data
systems place their own baseline points (integration events the export does not record); where the
vendor drew a chord from the peak's start to its end, that chord's area equals the vendor's to 0.1 %
(checked below), so the remaining difference is the baseline choice, which a 10 % band absorbs on
resolved peaks. Single resolved peaks of calibration standards agree within 1 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.chromatogram import integrate_chromatogram, resolution_step
from drivers.files import Trace, read_chromatogram_file
from drivers.files.agreement import compare_with_vendor

REAL = Path(__file__).resolve().parents[2] / "data" / "real"

# (data system, file, trace index) whose major peaks all agree with the vendor within 10 % / 0.05 min
AGREEING = [
    ("LabSolutions", "labsolutions_big5/std-25.txt", 0),
    ("LabSolutions", "labsolutions_big5/std-50.txt", 0),
    ("LabSolutions", "labsolutions_big5/std-100.txt", 0),
    ("LabSolutions", "labsolutions_big5/std-150.txt", 0),
    ("LabSolutions", "labsolutions_big5/std-200.txt", 0),
    ("LabSolutions", "labsolutions_big5/sample-1.txt", 0),
    ("LabSolutions", "labsolutions_big5/sample-3.txt", 0),
    ("LabSolutions", "labsolutions_big5/sample-4.txt", 0),
    ("LabSolutions", "labsolutions_multichannel/STD_100.txt", 1),
    ("LabSolutions", "labsolutions_multichannel/STD_100.txt", 2),
    ("LabSolutions", "labsolutions_multichannel/STD_12.5.txt", 1),
    ("LabSolutions", "labsolutions_multichannel/STD_12.5.txt", 2),
    ("ChemStation", "chemstation/001F0101.D", 0),
    ("ChemStation", "chemstation/001F0101.D", 1),
    ("AIA (ChemStation DAD)", "aia/agilent-hplc.cdf", 0),
]


def _compare(rel: str, k: int) -> tuple[Trace, list, list]:  # type: ignore[type-arg]
    tr = read_chromatogram_file(REAL / rel).traces[k]
    assert tr.peak_table is not None
    res = integrate_chromatogram(tr.times_min, tr.signal)
    return tr, list(res.peaks), compare_with_vendor([(p.retention_time_min, p.area) for p in res.peaks],
                                                    tr.peak_table)


@pytest.mark.parametrize(("system", "rel", "k"), AGREEING, ids=[f"{a[1]}#{a[2]}" for a in AGREEING])
def test_major_peaks_agree_with_the_data_system(system: str, rel: str, k: int) -> None:
    _, peaks, agreement = _compare(rel, k)
    major = [a for a in agreement if a.major]
    assert major and all(a.vendor_area is not None and a.area is not None for a in major), system
    for a in major:
        assert abs(a.area_difference) <= 0.10 and abs(a.rt_difference_min) <= 0.05, (system, a)
    assert not [a for a in agreement if a.flagged]
    assert all(p.area > 0 for p in peaks)


@pytest.mark.parametrize("rel", ["labsolutions_big5/std-100.txt", "labsolutions_big5/std-150.txt",
                                 "labsolutions_big5/std-200.txt"])
def test_calibration_standards_within_one_percent(rel: str) -> None:
    (a,) = [x for x in _compare(rel, 0)[2] if x.major]
    assert abs(a.area_difference) < 0.01


def test_vendor_chord_reproduces_the_vendor_area() -> None:
    """What the tolerance rests on: the RID Glucose peak (5.54, Detector B) integrated as a chord from the
    vendor's own I.Time to F.Time gives the vendor's area (904583 µV·s) to 0.1 %."""
    tr = read_chromatogram_file(REAL / "labsolutions_multichannel/STD_100.txt").traces[2]
    pk = tr.peak_table.peaks[3]  # type: ignore[union-attr]
    t, y = tr.times_min, tr.signal
    s, e = np.searchsorted(t, pk.start_min), np.searchsorted(t, pk.end_min)
    chord = np.interp(t[s:e + 1], [t[s], t[e]], [y[s], y[e]])
    area = float(np.trapezoid(y[s:e + 1] - chord, t[s:e + 1] * 60))
    assert area == pytest.approx(pk.area * 0.001, rel=0.001)  # type: ignore[operator]


def test_disagreement_is_flagged_not_hidden() -> None:
    """LabSolutions 1.25 (Output-sample 0): the vendor drew one baseline under a 12-peak cluster through
    a negative drift (its heights exceed the signal by 1.7 mV); ours follows the signal. The major peaks
    that differ by > 10 % are flagged, each with both areas."""
    _, _, agreement = _compare("labsolutions/Output-sample 0.txt", 0)
    flagged = [a for a in agreement if a.flagged]
    assert flagged and all(a.major for a in flagged)
    assert any(a.vendor_area is not None and a.area is not None for a in flagged)


def test_real_rid_channel_was_53_23_12_peaks() -> None:
    """LabSolutions 5.54 three-channel export: vendor tables list 2/7/7 peaks; the project found 53/23/12
    (noise from first differences of a filtered, integer-stepped signal) — now every major peak is one of
    the vendor's, and no channel has more than 12 peaks."""
    cf = read_chromatogram_file(REAL / "labsolutions_multichannel/STD_100.txt")
    for tr in cf.traces:
        res = integrate_chromatogram(tr.times_min, tr.signal)
        assert len(res.peaks) <= 12, tr.channel
        assert all(p.area > 0 for p in res.peaks)


def test_quantized_real_trace_noise_not_below_resolution() -> None:
    """LabSolutions 5.54 RID channel: 55.9 % of consecutive differences are 0; the noise estimate was
    6.4e-12 (the MAD of the differences is 0) and is now at least one resolution step (1 µV)."""
    tr = read_chromatogram_file(REAL / "labsolutions_multichannel/STD_12.5.txt").traces[2]
    assert np.mean(np.diff(tr.signal) == 0) > 0.55
    step = resolution_step(tr.signal)
    assert step == pytest.approx(0.001)
    res = integrate_chromatogram(tr.times_min, tr.signal)
    assert res.noise_sd >= step and all(p.area > 0 for p in res.peaks)


def test_minor_peaks_do_not_count_as_disagreements() -> None:
    """A vendor peak below 5 % of the channel's area is compared but never flagged."""
    _, _, agreement = _compare("labsolutions_multichannel/STD_100.txt", 1)
    minor = [a for a in agreement if not a.major]
    assert minor and not any(a.flagged for a in minor)
