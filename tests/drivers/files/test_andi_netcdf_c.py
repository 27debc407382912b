"""AIA/ANDI files written by Unidata's netCDF-C (through the netCDF4 package, a dev dependency): the
library chromatography data systems write their AIA exports with, independent of the scipy.io code the
reader uses. Classic and 64-bit-offset files, fixed and UNLIMITED point dimensions, values left unwritten
(netCDF fill), padded text, UTF-8 names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.files import ChromatogramFileError, read_chromatogram_file

netCDF4 = pytest.importorskip("netCDF4")

Y = np.array([0.5, 1.25, 8.0, 31.5, 12.0, 2.0, 0.75], dtype=float)


def _write(path: Path, fmt: str, dtype: str, unlimited: bool) -> Path:
    ds = netCDF4.Dataset(str(path), "w", format=fmt)
    ds.dataset_completeness = "C1+C2"
    ds.aia_template_revision = "1.0"
    ds.netcdf_revision = "2.3.2"
    ds.retention_unit = "Seconds"
    ds.detector_name = "ECD A"
    ds.sample_name = "芹菜 S-2026-117"
    ds.createDimension("point_number", None if unlimited else Y.size)
    ds.createDimension("peak_number", 2)
    ds.createDimension("_30_byte_string", 30)
    y = ds.createVariable("ordinate_values", dtype, ("point_number",))
    y[:] = Y.astype(dtype)
    ds.createVariable("actual_sampling_interval", "f4", ()).assignValue(0.25)
    ds.createVariable("actual_delay_time", "f4", ()).assignValue(1.5)
    ds.createVariable("actual_run_time_length", "f4", ())  # declared, never written: fill
    rt = ds.createVariable("peak_retention_time", "f4", ("peak_number",))
    rt[:] = [2.0, 2.5]
    area = ds.createVariable("peak_area", "f4", ("peak_number",), fill_value=np.float32(-1.0))
    area[0] = 123.5  # peak 2's area left unwritten
    name = ds.createVariable("peak_name", "S1", ("peak_number", "_30_byte_string"))
    name[:] = np.array([[bytes([c]) for c in text.encode().ljust(30, b"\x00")]
                        for text in ("chlorpyrifos", "毒死蜱")], dtype="S1")
    ds.close()
    return path


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET"])
@pytest.mark.parametrize("dtype", ["f4", "f8"])
@pytest.mark.parametrize("unlimited", [False, True], ids=["fixed", "unlimited"])
def test_netcdf_c_files_read_exactly(tmp_path: Path, fmt: str, dtype: str, unlimited: bool) -> None:
    cf = read_chromatogram_file(_write(tmp_path / "run.cdf", fmt, dtype, unlimited))
    (trace,) = cf.traces
    assert trace.signal.tolist() == Y.tolist()
    assert trace.times_min.tolist() == pytest.approx(((1.5 + 0.25 * np.arange(Y.size)) / 60).tolist(), abs=1e-12)
    assert trace.channel == "ECD A"
    assert cf.metadata["sample_name"] == "芹菜 S-2026-117"
    peaks = cf.peak_tables[0].peaks
    assert [pk.name for pk in peaks] == ["chlorpyrifos", "毒死蜱"]
    assert [pk.area for pk in peaks] == [123.5, None]  # written, never written (fill): absent, not -1
    assert [pk.retention_time_min for pk in peaks] == pytest.approx([2.0 / 60, 2.5 / 60])


def test_short_integers_in_an_unlimited_dimension_are_refused_not_misread(tmp_path: Path) -> None:
    """netCDF-C writes a lone record variable without record padding; scipy.io expects the padding, so
    this layout (rare: AIA traces are float) is refused with a typed error naming the file."""
    p = _write(tmp_path / "int16.cdf", "NETCDF3_CLASSIC", "i2", unlimited=True)
    with pytest.raises(ChromatogramFileError, match="not a readable classic netCDF file") as e:
        read_chromatogram_file(p)
    assert e.value.file.endswith("int16.cdf")
    fixed = read_chromatogram_file(_write(tmp_path / "int16-fixed.cdf", "NETCDF3_CLASSIC", "i2", unlimited=False))
    assert fixed.traces[0].signal.tolist() == Y.astype("i2").tolist()
