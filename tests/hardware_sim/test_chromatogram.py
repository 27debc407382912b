"""Chromatogram generator: areas by construction, the three export formats read back independently."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hardware_sim.chromatogram import DEFAULT_PEAKS, ChromatogramSpec, Peak, generate, write_all
from scipy.io import netcdf_file


def test_area_and_apex_of_isolated_peaks():
    spec = ChromatogramSpec(DEFAULT_PEAKS, noise_sd=0.0, baseline_offset=0.0, baseline_drift_per_min=0.0)
    chrom = generate(spec)
    dt = spec.sampling_interval_s
    for truth in chrom.truth:
        window = np.abs(chrom.times_s / 60 - truth.apex_time_min) < 0.6
        assert chrom.signal[window].sum() * dt == pytest.approx(truth.area, rel=1e-3)
    gauss = chrom.truth[0]  # symmetric: apex at μ, height = area / (σ √(2π))
    assert gauss.apex_time_min == pytest.approx(2.5, abs=1e-4)
    assert gauss.height == pytest.approx(120.0 / (1.8 * np.sqrt(2 * np.pi)), rel=1e-6)
    assert chrom.truth[1].apex_time_min > 5.2  # EMG tail moves the apex later than μ


def test_seeded_noise_is_reproducible():
    a = generate(ChromatogramSpec(DEFAULT_PEAKS, seed=5)).signal
    b = generate(ChromatogramSpec(DEFAULT_PEAKS, seed=5)).signal
    c = generate(ChromatogramSpec(DEFAULT_PEAKS, seed=6)).signal
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_files_read_back(tmp_path):
    spec = ChromatogramSpec((Peak("x", 1.0, 50.0),), run_time_min=2.0, sampling_interval_s=0.5)
    files = write_all(spec, tmp_path, "s1")
    chrom = generate(spec)
    with netcdf_file(str(files.netcdf), "r", mmap=False) as nc:
        assert nc.retention_unit == b"seconds" and nc.detector_unit == b"mAU"
        assert float(nc.variables["actual_sampling_interval"].getValue()) == 0.5
        assert float(nc.variables["actual_delay_time"].getValue()) == 0.0
        y = nc.variables["ordinate_values"][:].copy()
        assert list(nc.variables["peak_area"][:]) == [50.0]
        assert nc.variables["peak_name"][0].tobytes().rstrip(b"\0") == b"x"
    assert np.allclose(y, chrom.signal, atol=1e-5) and len(y) == 241
    text = files.labsolutions.read_text().splitlines()
    assert text[0] == "[Header]" and "[Sample Information]" in text
    i = text.index("[LC Chromatogram(Detector A-Ch1)]")
    meta = dict(line.split(",", 1) for line in text[i + 1: text.index("R.Time (min),Intensity")])
    assert meta["Interval(msec)"] == "500" and meta["# of Points"] == "241"
    mult = float(meta["Intensity Multiplier"])
    rows = [line.split(",") for line in text[text.index("R.Time (min),Intensity") + 1:]]
    assert len(rows) == 241 and float(rows[2][0]) == pytest.approx(1 / 60, abs=1e-5)
    assert np.allclose([int(r[1]) * mult for r in rows], chrom.signal, atol=mult)
    with files.csv.open() as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["time", "signal"] and float(table[-1]["time"]) == pytest.approx(2.0)
