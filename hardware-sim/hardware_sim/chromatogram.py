"""Chromatograms with known peak areas, written as a chromatography data system would export them.

Peaks are Gaussian or exponentially modified Gaussian (EMG: a Gaussian convolved with an
exponential decay of time constant τ, the usual model of a tailing peak); each shape is a
probability density scaled by the peak's area, so the true area is exact by construction.
Areas are in signal × seconds. Formats:

- AIA/ANDI chromatography netCDF (ASTM E1947): ``ordinate_values``, ``actual_sampling_interval``,
  ``actual_delay_time``, ``actual_run_time_length``, global ``detector_unit``/``retention_unit``
  and peak variables ``peak_retention_time``, ``peak_area``, ``peak_height``, ``peak_name``.
- Shimadzu LabSolutions ASCII export: ``[Header]``, ``[Sample Information]``,
  ``[LC Chromatogram(Detector A-Ch1)]`` with ``Interval(msec)``, ``# of Points``,
  ``Intensity Multiplier`` and ``R.Time (min),Intensity`` rows.
- CSV ``time,signal`` with time in minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import netcdf_file
from scipy.stats import exponnorm, norm


@dataclass(frozen=True)
class Peak:
    """A peak: ``retention_time_min`` is the Gaussian centre μ; ``tau_s`` > 0 makes it tail (EMG)."""

    name: str
    retention_time_min: float
    area: float
    sigma_s: float = 2.0
    tau_s: float = 0.0

    def __post_init__(self) -> None:
        if self.area <= 0 or self.sigma_s <= 0 or self.tau_s < 0:
            raise ValueError(f"peak {self.name!r}: area and sigma_s must be > 0, tau_s ≥ 0")

    def density(self, t_s: np.ndarray) -> np.ndarray:
        """Unit-area shape (1/s) at times ``t_s`` in seconds."""
        mu = self.retention_time_min * 60.0
        if self.tau_s == 0:
            return np.asarray(norm.pdf(t_s, loc=mu, scale=self.sigma_s))
        return np.asarray(exponnorm.pdf(t_s, self.tau_s / self.sigma_s, loc=mu, scale=self.sigma_s))


@dataclass(frozen=True)
class ChromatogramSpec:
    peaks: tuple[Peak, ...]
    run_time_min: float = 10.0
    sampling_interval_s: float = 0.2
    delay_time_s: float = 0.0
    baseline_offset: float = 0.5
    baseline_drift_per_min: float = 0.05
    noise_sd: float = 0.01
    seed: int = 0
    detector_unit: str = "mAU"
    sample_name: str = "SIM-0001"


@dataclass(frozen=True)
class PeakTruth:
    """What a correct integration must find: apex time, area (signal × s), height above baseline."""

    name: str
    apex_time_min: float
    area: float
    height: float
    sigma_s: float
    tau_s: float


@dataclass(frozen=True)
class Chromatogram:
    times_s: np.ndarray
    signal: np.ndarray
    baseline: np.ndarray
    truth: tuple[PeakTruth, ...]
    spec: ChromatogramSpec


def generate(spec: ChromatogramSpec) -> Chromatogram:
    """Sample the peaks on the detector's clock, add a drifting baseline and seeded Gaussian noise."""
    n = int(round(spec.run_time_min * 60.0 / spec.sampling_interval_s)) + 1
    times = spec.delay_time_s + np.arange(n) * spec.sampling_interval_s
    baseline = spec.baseline_offset + spec.baseline_drift_per_min * times / 60.0
    clean = np.zeros(n)
    truth = []
    for peak in spec.peaks:
        clean += peak.area * peak.density(times)
        mu = peak.retention_time_min * 60.0
        span = 6 * peak.sigma_s + 10 * peak.tau_s
        fine = np.linspace(mu - 6 * peak.sigma_s, mu + span, 20001)
        shape = peak.area * peak.density(fine)
        k = int(np.argmax(shape))
        truth.append(PeakTruth(peak.name, float(fine[k]) / 60.0, peak.area, float(shape[k]),
                               peak.sigma_s, peak.tau_s))
    rng = np.random.default_rng(spec.seed)
    signal = clean + baseline + rng.normal(0.0, spec.noise_sd, n) if spec.noise_sd else clean + baseline
    return Chromatogram(times, signal, baseline, tuple(truth), spec)


def write_csv(chrom: Chromatogram, path: Path) -> None:
    lines = ["time,signal"] + [f"{t / 60.0:.6f},{y:.6f}" for t, y in zip(chrom.times_s, chrom.signal, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def write_labsolutions(chrom: Chromatogram, path: Path, *, intensity_multiplier: float = 0.001) -> None:
    """Shimadzu LabSolutions ASCII export; Intensity is an integer, value = Intensity × multiplier."""
    spec = chrom.spec
    counts = np.rint(chrom.signal / intensity_multiplier).astype(np.int64)
    out = [
        "[Header]",
        "Application Name,LabSolutions",
        "Version,5.97",
        f"Data File Name,{spec.sample_name}.lcd",
        "Output Date,2025/03/14",
        "Output Time,09:30:05",
        "",
        "[Sample Information]",
        "Operator,Sim",
        f"Sample Name,{spec.sample_name}",
        f"Sample ID,{spec.sample_name}",
        "Sample Type,Unknown",
        "",
        "[LC Chromatogram(Detector A-Ch1)]",
        f"Interval(msec),{spec.sampling_interval_s * 1000:g}",
        f"# of Points,{len(counts)}",
        f"Start Time(min),{chrom.times_s[0] / 60.0:.3f}",
        f"End Time(min),{chrom.times_s[-1] / 60.0:.3f}",
        f"Intensity Units,{spec.detector_unit}",
        f"Intensity Multiplier,{intensity_multiplier:g}",
        "Wavelength(nm),254",
        "R.Time (min),Intensity",
    ]
    out += [f"{t / 60.0:.5f},{c}" for t, c in zip(chrom.times_s, counts, strict=True)]
    path.write_text("\r\n".join(out) + "\r\n", encoding="ascii")


def write_netcdf(chrom: Chromatogram, path: Path) -> None:
    """AIA/ANDI chromatography netCDF (ASTM E1947 categories C1+C2: raw data and peak table)."""
    spec = chrom.spec
    with netcdf_file(str(path), "w", version=1) as nc:
        nc.dataset_completeness = b"C1+C2"
        nc.aia_template_revision = b"1.0"
        nc.netcdf_revision = b"2.3.2"
        nc.languages = b"English only"
        nc.experiment_title = spec.sample_name.encode("ascii")
        nc.detector_unit = spec.detector_unit.encode("ascii")
        nc.retention_unit = b"seconds"
        nc.raw_data_table_name = b"Detector A"
        nc.createDimension("_2_byte_string", 2)
        nc.createDimension("_32_byte_string", 32)
        nc.createDimension("point_number", len(chrom.signal))
        nc.createDimension("peak_number", len(chrom.truth))
        ov = nc.createVariable("ordinate_values", "f", ("point_number",))
        ov[:] = chrom.signal.astype(np.float32)
        for name, value in (("actual_sampling_interval", spec.sampling_interval_s),
                            ("actual_delay_time", spec.delay_time_s),
                            ("actual_run_time_length", spec.run_time_min * 60.0)):
            var = nc.createVariable(name, "d", ())
            var[()] = value
        n_peaks = len(chrom.truth)
        if n_peaks:
            rt = nc.createVariable("peak_retention_time", "f", ("peak_number",))
            rt[:] = [p.apex_time_min * 60.0 for p in chrom.truth]
            area = nc.createVariable("peak_area", "f", ("peak_number",))
            area[:] = [p.area for p in chrom.truth]
            height = nc.createVariable("peak_height", "f", ("peak_number",))
            height[:] = [p.height for p in chrom.truth]
            names = nc.createVariable("peak_name", "c", ("peak_number", "_32_byte_string"))
            names[:] = np.array([list(p.name.encode("ascii")[:32].ljust(32, b"\0")) for p in chrom.truth],
                                dtype="uint8").view("S1")


@dataclass(frozen=True)
class GeneratedFiles:
    """Where the files went, and the ground truth they encode."""

    netcdf: Path
    labsolutions: Path
    csv: Path
    truth: tuple[PeakTruth, ...]


def write_all(spec: ChromatogramSpec, out_dir: Path, stem: str = "chrom") -> GeneratedFiles:
    """Generate one chromatogram and write it in all three formats under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chrom = generate(spec)
    files = GeneratedFiles(out_dir / f"{stem}.cdf", out_dir / f"{stem}.txt", out_dir / f"{stem}.csv", chrom.truth)
    write_netcdf(chrom, files.netcdf)
    write_labsolutions(chrom, files.labsolutions)
    write_csv(chrom, files.csv)
    return files


DEFAULT_PEAKS = (
    Peak("dichlorvos", 2.50, 120.0, sigma_s=1.8),
    Peak("chlorpyrifos", 5.20, 300.0, sigma_s=2.2, tau_s=1.5),
    Peak("cypermethrin", 7.80, 80.0, sigma_s=2.5, tau_s=3.0),
)
