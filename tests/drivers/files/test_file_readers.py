"""Export-file readers on small synthetic files written here (formats as documented in DOMAIN.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import netcdf_file

from drivers.files import ChromatogramFileError, read_chromatogram_file
from lims.cli import main

CHEMSTATION_REPORT = """Data File C:\\CHEM32\\1\\DATA\\RUN1.D
Sample Name: std 0.1

=====================================================================
                         Area Percent Report
=====================================================================

Signal 1: DAD1 A, Sig=254,4 Ref=360,100

Peak RetTime Type  Width     Area      Height     Area
  #   [min]        [min]    [mAU*s]    [mAU]        %
----|-------|----|-------|----------|----------|--------|
   1   1.234 BB    0.0523  123.45678   35.12345  12.3456
   2   2.500 BV    0.0800 1034.50000  180.00000  87.6544

Totals :                  1157.95678  215.12345

*** End of Report ***
"""


def _gauss_trace(t: np.ndarray) -> np.ndarray:
    return 1.0 + 50 * np.exp(-0.5 * ((t - 2.0) * 60 / 3.0) ** 2)


def test_chemstation_report_utf16(tmp_path: Path) -> None:
    p = tmp_path / "Report.TXT"
    p.write_bytes(CHEMSTATION_REPORT.replace("\n", "\r\n").encode("utf-16"))  # BOM + UTF-16LE
    cf = read_chromatogram_file(p)
    assert cf.source_format == "chemstation-report" and not cf.traces
    (tab,) = cf.peak_tables
    assert tab.channel.startswith("Signal 1: DAD1 A")
    assert [pk.retention_time_min for pk in tab.peaks] == [1.234, 2.5]
    assert tab.peaks[0].area == pytest.approx(123.45678) and tab.peaks[1].height == pytest.approx(180.0)
    assert tab.peaks[1].peak_type == "BV"


def test_chemstation_csv(tmp_path: Path) -> None:
    p = tmp_path / "REPORT01.CSV"
    p.write_bytes("1,1.234,BB,0.0523,123.45678,35.12345,12.3456\r\n2,2.500,BV,0.0800,1034.5,180.0,87.6544\r\n"
                  .encode("utf-16"))
    cf = read_chromatogram_file(p)
    assert cf.peak_tables[0].channel == "Signal 1"
    assert [pk.area for pk in cf.peak_tables[0].peaks] == [123.45678, 1034.5]


def test_chemstation_csv_bad_number_names_line(tmp_path: Path) -> None:
    p = tmp_path / "REPORT02.CSV"
    p.write_bytes("1,1.234,BB,0.05,123.4,35.1,12.3\r\n2,2.500,BV,0.08,12x,180.0,87.6\r\n".encode("utf-16"))
    with pytest.raises(ChromatogramFileError) as e:
        read_chromatogram_file(p)
    assert e.value.line == 2 and e.value.field == "Area"


def _labsolutions(t: np.ndarray, counts: np.ndarray) -> str:
    rows = "\n".join(f"{ti:.5f}\t{int(ci)}" for ti, ci in zip(t, counts, strict=True))
    return ("[Header]\nApplication Name\tLabSolutions\n\n[Sample Information]\nSample Name\tstd\n\n"
            "[LC Chromatogram(Detector A-Ch1)]\nInterval(msec)\t100\n"
            f"# of Points\t{t.size}\nStart Time(min)\t0.000\nEnd Time(min)\t{t[-1]:.3f}\n"
            "Intensity Units\tuV\nIntensity Multiplier\t0.001\nR.Time (min)\tIntensity\n" + rows + "\n")


def test_labsolutions_ascii(tmp_path: Path) -> None:
    t = np.arange(0, 4, 1 / 600)
    counts = np.round(_gauss_trace(t) * 1000)
    p = tmp_path / "run.txt"
    p.write_text(_labsolutions(t, counts), encoding="utf-8")
    cf = read_chromatogram_file(p)
    assert cf.source_format == "labsolutions-ascii"
    (tr,) = cf.traces
    assert tr.channel == "LC Detector A-Ch1" and tr.units == "uV"
    np.testing.assert_allclose(tr.signal, counts * 0.001)


def test_labsolutions_point_count_mismatch(tmp_path: Path) -> None:
    t = np.arange(0, 1, 1 / 600)
    text = _labsolutions(t, np.ones_like(t)).replace(f"# of Points\t{t.size}", f"# of Points\t{t.size + 5}")
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(ChromatogramFileError, match="# of Points"):
        read_chromatogram_file(p)


def _write_andi(path: Path, y: np.ndarray, interval_s: float, delay_s: float) -> None:
    f = netcdf_file(str(path), "w")
    f.detector_name = b"UV 254"
    f.detector_unit = b"mAU"
    f.createDimension("point_number", y.size)
    f.createDimension("peak_number", 1)
    f.createDimension("_2_byte_string", 2)
    v = f.createVariable("ordinate_values", "f", ("point_number",))
    v[:] = y.astype(np.float32)
    s = f.createVariable("actual_sampling_interval", "f", ())
    s.data[...] = interval_s
    d = f.createVariable("actual_delay_time", "f", ())
    d.data[...] = delay_s
    rt = f.createVariable("peak_retention_time", "f", ("peak_number",))
    rt[:] = [120.0]
    ar = f.createVariable("peak_area", "f", ("peak_number",))
    ar[:] = [376.0]
    f.close()


def test_andi_netcdf(tmp_path: Path) -> None:
    t = np.arange(0, 4, 1 / 600)
    p = tmp_path / "run.cdf"
    _write_andi(p, _gauss_trace(t + 0.05), interval_s=0.1, delay_s=3.0)
    cf = read_chromatogram_file(p)
    assert cf.source_format == "andi-netcdf"
    (tr,) = cf.traces
    assert tr.times_min[0] == pytest.approx(0.05) and tr.times_min[1] - tr.times_min[0] == pytest.approx(0.1 / 60)
    assert tr.channel == "UV 254" and tr.units == "mAU"
    assert cf.peak_tables[0].peaks[0].retention_time_min == pytest.approx(2.0)


def test_corrupt_netcdf_names_byte_offset(tmp_path: Path) -> None:
    p = tmp_path / "bad.cdf"
    p.write_bytes(b"CDF\x01" + b"\x00\x00\x00")
    with pytest.raises(ChromatogramFileError) as e:
        read_chromatogram_file(p)
    assert e.value.byte_offset == 0


def test_csv_trace_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "trace.csv"
    p.write_text("Time,Signal\n0.0,1\n0.1,2\n0.2,3\n")
    cf = read_chromatogram_file(p)
    assert cf.source_format == "csv" and cf.traces[0].signal.tolist() == [1, 2, 3]
    bad = tmp_path / "bad.csv"
    bad.write_text("time,signal\n0.0,1\n0.1,oops\n0.2,3\n")
    with pytest.raises(ChromatogramFileError) as e:
        read_chromatogram_file(bad)
    assert e.value.line == 3 and e.value.field == "signal"


def test_cli_integrate_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = np.arange(0, 4, 1 / 600)
    p = tmp_path / "run.cdf"
    _write_andi(p, _gauss_trace(t), interval_s=0.1, delay_s=0.0)
    assert main(["chrom", "integrate", str(p), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"source_format", "channel", "points", "peaks"} <= set(doc) and doc["points"] == t.size
    (pk,) = doc["peaks"]
    assert pk["retention_time_min"] == pytest.approx(2.0, abs=1e-3)
    assert pk["area"] == pytest.approx(50 * 3.0 * np.sqrt(2 * np.pi), rel=0.005)  # signal × seconds
    assert pk["height"] == pytest.approx(50, rel=0.005)


def test_cli_integrate_peak_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "Report.TXT"
    p.write_bytes(CHEMSTATION_REPORT.encode("utf-16"))
    assert main(["chrom", "integrate", str(p), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["points"] is None and [pk["area"] for pk in doc["peaks"]] == [123.45678, 1034.5]


def test_cli_bad_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("time,signal\n0,1\n1,x\n2,3\n")
    assert main(["chrom", "integrate", str(p), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "line 3" in err


def test_andi_vendor_minus_one_is_absent(tmp_path: Path) -> None:
    """A peak height or area of -1 is the writer's 'not computed': absent, never a value (issue 13)."""
    p = tmp_path / "run.cdf"
    t = np.arange(0, 4, 1 / 600)
    _write_andi(p, _gauss_trace(t), interval_s=0.1, delay_s=0.0)
    f = netcdf_file(str(p), "a")
    h = f.createVariable("peak_height", "f", ("peak_number",))
    h[:] = [-1.0]
    f.variables["peak_area"][:] = [-1.0]
    f.close()
    (pk,) = read_chromatogram_file(p).peak_tables[0].peaks
    assert pk.height is None and pk.area is None
