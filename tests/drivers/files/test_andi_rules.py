"""AIA/ANDI rules the netCDF container leaves to the reader (ASTM E1947 template; netCDF classic format
spec for fill values): values never written are absent, never data; C-string text; seconds only; a file
declaring raw data (C1) must hold it. Files written with scipy.io, setting what netCDF-C writers leave
(``_FillValue``, default fills, NUL padding, UTF-8 names)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import netcdf_file

from drivers.files import ChromatogramFileError, read_chromatogram_file

NC_FILL_FLOAT = 9.9692099683868690e36  # netcdf.h: the default fill of a float never written


def _write(path: Path, *, y=None, delay=None, areas=(376.0, 210.0), area_fill=None, unit=b"Seconds",
           completeness=b"C1+C2", sample=b"S-1", names=(b"chlorpyrifos", b"")) -> Path:
    f = netcdf_file(str(path), "w")
    f.dataset_completeness = completeness
    f.retention_unit = unit
    f.sample_name = sample
    f.detector_name = b"FPD"
    f.createDimension("peak_number", len(areas))
    f.createDimension("_30_byte_string", 30)
    if y is not None:
        f.createDimension("point_number", len(y))
        v = f.createVariable("ordinate_values", "f", ("point_number",))
        v[:] = np.asarray(y, dtype=np.float32)
        s = f.createVariable("actual_sampling_interval", "f", ())
        s.data[...] = 0.5
        d = f.createVariable("actual_delay_time", "f", ())
        d.data[...] = NC_FILL_FLOAT if delay is None else delay
    rt = f.createVariable("peak_retention_time", "f", ("peak_number",))
    rt[:] = [120.0, 150.0][:len(areas)]
    ar = f.createVariable("peak_area", "f", ("peak_number",))
    if area_fill is not None:
        ar._FillValue = np.float32(area_fill)
    ar[:] = np.asarray(areas, dtype=np.float32)
    pn = f.createVariable("peak_name", "c", ("peak_number", "_30_byte_string"))
    pn[:] = np.array([[bytes([c]) for c in n.ljust(30, b"\x00")] for n in names[:len(areas)]], dtype="S1")
    f.close()
    return path


def test_unwritten_delay_is_no_delay_and_filled_area_is_absent(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.cdf", y=[1.0, 2.0, 3.0], areas=(376.0, -1.0), area_fill=-1.0)
    cf = read_chromatogram_file(p)
    (trace,) = cf.traces
    assert trace.times_min.tolist() == pytest.approx([0.0, 0.5 / 60, 1.0 / 60])  # not 1.7e35 min
    peaks = cf.peak_tables[0].peaks
    assert [pk.area for pk in peaks] == [376.0, None]
    assert [pk.name for pk in peaks] == ["chlorpyrifos", None]


def test_default_fill_in_a_peak_column_is_absent(tmp_path: Path) -> None:
    p = _write(tmp_path / "b.cdf", y=[1.0, 2.0], delay=6.0, areas=(NC_FILL_FLOAT, 5.0))
    peaks = read_chromatogram_file(p).peak_tables[0].peaks
    assert [pk.area for pk in peaks] == [None, 5.0]
    assert read_chromatogram_file(p).traces[0].times_min[0] == pytest.approx(0.1)


def test_an_unwritten_trace_point_is_an_error_naming_it(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.cdf", y=[1.0, NC_FILL_FLOAT, 3.0])
    with pytest.raises(ChromatogramFileError, match="first at index 1") as e:
        read_chromatogram_file(p)
    assert e.value.field == "ordinate_values" and e.value.file.endswith("c.cdf")


def test_text_is_a_c_string_in_utf8(tmp_path: Path) -> None:
    sample = "芹菜-样品-42".encode() + b"\x00S-41\x00\x00"
    cf = read_chromatogram_file(_write(tmp_path / "d.cdf", y=[1.0], sample=sample))
    assert cf.metadata["sample_name"] == "芹菜-样品-42"


def test_latin1_text_still_reads(tmp_path: Path) -> None:
    cf = read_chromatogram_file(_write(tmp_path / "e.cdf", y=[1.0], sample="Milch-Ü".encode("latin-1")))
    assert cf.metadata["sample_name"] == "Milch-Ü"


def test_times_in_another_unit_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ChromatogramFileError, match="only seconds") as e:
        read_chromatogram_file(_write(tmp_path / "f.cdf", y=[1.0], unit=b"Minutes"))
    assert e.value.field == "retention_unit"


def test_declared_raw_data_must_be_there(tmp_path: Path) -> None:
    with pytest.raises(ChromatogramFileError, match="declares C1") as e:
        read_chromatogram_file(_write(tmp_path / "g.cdf", y=None))
    assert e.value.field == "ordinate_values"
    peaks_only = read_chromatogram_file(_write(tmp_path / "h.cdf", y=None, completeness=b"C2"))
    assert not peaks_only.traces and len(peaks_only.peak_tables[0].peaks) == 2


def test_a_variable_of_the_wrong_type_is_a_typed_error(tmp_path: Path) -> None:
    p = tmp_path / "i.cdf"
    f = netcdf_file(str(p), "w")
    f.createDimension("point_number", 2)
    f.createDimension("_4", 4)
    v = f.createVariable("ordinate_values", "f", ("point_number",))
    v[:] = [1.0, 2.0]
    s = f.createVariable("actual_sampling_interval", "c", ("_4",))
    s[:] = np.array([b"0", b".", b"5", b"x"], dtype="S1")
    f.close()
    with pytest.raises(ChromatogramFileError, match="numeric") as e:
        read_chromatogram_file(p)
    assert e.value.file.endswith("i.cdf") and e.value.field == "actual_sampling_interval"
