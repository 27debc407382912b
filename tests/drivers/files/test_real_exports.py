"""Real exports of chromatography data systems (tests/data/real, see PROVENANCE.md there): every format
is read with its channels, sample fields and the data system's own peak table; every format cut or
garbled is a typed error (CLI: exit 2, one line). Expected values are the files' own contents (header
fields and first data rows as written, read with a text viewer)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drivers.files import ChromatogramFileError, read_chromatogram_bytes, read_chromatogram_file
from lims.cli import main

REAL = Path(__file__).resolve().parents[2] / "data" / "real"


def _real(rel: str) -> Path:
    return REAL / rel


# (file, source_format, traces, first channel, units, points, first signal value, sample_id,
#  sample_name, injected_at, method ends with, encoding)
CASES = [
    ("labsolutions/Output-sample 0.txt", "labsolutions-ascii", 1, "LC Detector A-Ch1", "mV", 1801, -0.132,
     None, "0", "21.2.2012. 13:16:57", "metoda3_2eluenta.lcm", "cp1252"),
    ("labsolutions_multichannel/STD_100.txt", "labsolutions-ascii", 3, "LC Detector A-Ch1", "mV", 3360, -0.001,
     "STD 1 100", "STD 1 100", "02/08/2023 17:08:21", "fermentation_nobutanol-96.lcm", "utf-8"),
    ("labsolutions_598/new-shim-1.txt", "labsolutions-ascii", 3, "LC Detector A-Ch1", "mV", 2401, 0.002,
     "Tommy-S-1-031022", "Tommy-S-1-031022", "3/10/2022 9:53:59 PM", "Superose5_150.lcm", "utf-8"),
    ("labsolutions_big5/std-100.txt", "labsolutions-ascii", 1, "LC Detector A-Ch1", "mV", 721, 0.193,
     None, "咖啡因-樣品20161017", "2016/10/17 下午 01:15:27", "30%MeOH in H2O.lcm", "big5"),
    ("chromeleon/Adenosine Stadards_ 0.5 mM.txt", "chromeleon-text", 1, "UV_VIS_1", "mAU", 26401, -0.0184,
     "19", "A 0,5 mM", "02.02.2023 15:20:12", "20230109_isokratisch_Methode_49Min", "cp1252"),
    ("chromeleon7/06_20170526_MME_AA_A1_ED_1.txt", "chromeleon-text", 1, "ED_1", "nC", 3241, -0.10265,
     None, "20170526_MME_AA_A1", "26.05.2017 17:48:24", "0-400 mM NaAc 40 min_OHNE_PORT_B 1HZ", "utf-8"),
    ("chromeleon7/IgG Vtag 1_ACQUITY FLR ChA.txt", "chromeleon-text", 1, "ACQUITY FLR ChA", "EU", 7801, 0.0,
     None, "IgG Vtag 1", "11/05/2018 06:40:44", None, "utf-8"),
    ("empower/results1844.arw", "empower-arw", 1, "2475ChA ex280/em350", None, 6601, 0.0,
     None, "SEC_08", None, "Sup6Inc_10_300_TrpGFP_LineA", "utf-8"),
    ("chemstation/001F0101.D", "chemstation-d", 2, "FID1A", "pA", 3600, 5.034896,
     None, "DFA-708-01", "24-Jul-23, 21:37:10", "HAO_NEUMANN_GC_VALVE_FOR_LIQUIDE.M", None),
    ("chemstation/chemstation_mwd.d", "chemstation-d", 5, "mwd1A", "mAU", 1801, -36.349773,
     None, "Cytochrome C", "18-Nov-10, 15:48:06", "RJB-TEST.M", None),
    ("chemstation/001F0101.D/TCD2B.ch", "chemstation-ch", 1, "TCD2B", "25 uV", 3600, None,
     None, "DFA-708-01", "24-Jul-23, 21:37:10", "HAO_NEUMANN_GC_VALVE_FOR_LIQUIDE.M", None),
    ("aia/agilent-hplc.cdf", "andi-netcdf", 1, "DAD1 A, Sig=254,4 Ref=360,100", "mAU", 4651, None,
     None, "MW-2-6-6 IC 90", "20181030174305+0000", "POS 3 IC 90-10 31 MIN.M", None),
    ("aia/agilent-hplc2.cdf", "andi-netcdf", 1, "MSD1 TIC, MS File", "counts", 1645, 258442.0,
     None, "RSD06-026-AcPhe+TEMPO", "20190110152600+0000", "RSD_1-2_A1_100-0%_20+10MIN.M", None),
    ("andi_ms/lcms_sim_gdgts_1.CDF", "andi-ms", 1, "TIC", "counts", 2330, 2170.0,
     None, None, "20130810110500-0400", None, None),
    ("masshunter_csv/RAU-R505-00.D", "masshunter-csv", 1, "TIC", "counts", 2012, 28271626.0,
     None, "RAU-R505-0", "06 Jun 24  02:31 pm", None, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reads_real_export(case: tuple) -> None:  # type: ignore[type-arg]
    rel, fmt, n, channel, units, points, first, sid, sname, injected, method, encoding = case
    cf = read_chromatogram_file(_real(rel))
    assert cf.source_format == fmt and len(cf.traces) == n
    tr = cf.traces[0]
    assert tr.channel == channel and tr.units == units and tr.times_min.size == points == tr.signal.size
    assert np.all(np.diff(tr.times_min) > 0) and np.all(np.isfinite(tr.signal))
    if first is not None:
        assert tr.signal[0] == pytest.approx(first)
    assert (cf.sample_id, cf.sample_name, cf.injected_at) == (sid, sname, injected)
    assert cf.method == method if method is None else cf.method.endswith(method)
    assert cf.encoding == encoding
    if sid or sname:  # the key the acquisition dialect reads the sample from
        assert cf.metadata.get("sample_id") == sid and cf.metadata.get("sample_name") == sname


def test_labsolutions_every_detector_with_its_peak_table() -> None:
    """5.54: tables 'Detector A-Ch1', 'Detector A-Ch2', 'Detector B' (for trace 'Detector B-Ch1');
    5.98: 'Detector A' for 'Detector A-Ch1'. Areas are raw µV·s: × the intensity multiplier (0.001)."""
    cf = read_chromatogram_file(_real("labsolutions_multichannel/STD_100.txt"))
    tables = {t.channel: (t.peak_table.channel, len(t.peak_table.peaks)) for t in cf.traces if t.peak_table}
    assert tables == {"LC Detector A-Ch1": ("Detector A-Ch1", 2), "LC Detector A-Ch2": ("Detector A-Ch2", 7),
                      "LC Detector B-Ch1": ("Detector B", 7)}
    glucose = cf.traces[2].peak_table.peaks[3]  # type: ignore[union-attr]
    assert (glucose.name, glucose.retention_time_min, glucose.area, glucose.height) == ("Glucose", 11.395,
                                                                                         904583, 49624)
    assert cf.traces[2].peak_table.area_factor == 0.001 and cf.traces[2].peak_table.area_units == "µV·s"  # type: ignore[union-attr]
    new = read_chromatogram_file(_real("labsolutions_598/new-shim-1.txt"))
    assert [(t.channel, t.peak_table.channel if t.peak_table else None, len(t.peak_table.peaks) if t.peak_table
             else 0) for t in new.traces] == [("LC Detector A-Ch1", "Detector A", 11),
                                              ("LC Detector B-Ch1", "Detector B", 41), ("LC AD2", "AD2", 6)]


def test_chemstation_folder_links_report_tables() -> None:
    cf = read_chromatogram_file(_real("chemstation/001F0101.D"))
    fid, tcd = cf.traces
    assert fid.peak_table is not None and fid.peak_table.channel.startswith("Signal 1: FID1 A")
    assert [p.area for p in fid.peak_table.peaks] == [4.57137e4, 955.59546, 17.71351]
    assert tcd.peak_table is not None and tcd.peak_table.peaks[0].retention_time_min == 2.828


def test_chromeleon_comma_decimals_with_thousands() -> None:
    """Row 147 of the file is ``1,716667<TAB>1<TAB>1.169,465667`` (period groups thousands)."""
    tr = read_chromatogram_file(_real("chromeleon7/06_20170526_MME_AA_A1_ED_1.txt")).traces[0]
    k = int(np.argmin(np.abs(tr.times_min - 1.716667)))
    assert tr.signal[k] == pytest.approx(1169.465667)


def test_empower_cr_only_line_ends_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """The .arw has CR-only line ends (a traceback in `lims chrom integrate` before)."""
    raw = _real("empower/results1844.arw").read_bytes()
    assert b"\n" not in raw and raw.count(b"\r") > 6000
    assert main(["chrom", "integrate", str(_real("empower/results1844.arw")), "--json"]) == 0
    import json
    doc = json.loads(capsys.readouterr().out)
    assert doc["points"] == 6601 and doc["peaks"] and doc["sample"]["sample_name"] == "SEC_08"


def test_mixed_line_ends_read_alike(tmp_path: Path) -> None:
    """Chromeleon 7 exports were seen with CRLF and CR mixed: every convention reads the same."""
    text = _real("chromeleon7/IgG Vtag 1_ACQUITY FLR ChA.txt").read_bytes().replace(b"\r\n", b"\n")
    lines = text.split(b"\n")
    mixed = b"".join(ln + (b"\r", b"\r\n", b"\n")[i % 3] for i, ln in enumerate(lines))
    a = read_chromatogram_bytes(text, "lf.txt").traces[0]
    b = read_chromatogram_bytes(mixed, "mixed.txt").traces[0]
    c = read_chromatogram_bytes(text.replace(b"\n", b"\r"), "cr.txt").traces[0]
    for other in (b, c):
        np.testing.assert_array_equal(a.signal, other.signal)
        np.testing.assert_array_equal(a.times_min, other.times_min)


def test_csv_with_cr_only_line_ends(tmp_path: Path) -> None:
    p = tmp_path / "trace.csv"
    p.write_bytes(b"time,signal\r0.0,1\r0.1,2\r0.2,3\r")
    assert read_chromatogram_file(p).traces[0].signal.tolist() == [1, 2, 3]


def test_big5_and_gb18030_only_when_unambiguous(tmp_path: Path) -> None:
    """Big5 bytes of a real file decode as Big5; the same header in GB18030 decodes as GB18030; a
    Windows-1252 µV·s (B5 56 B7 73, two Big5 characters) stays Windows-1252."""
    cf = read_chromatogram_file(_real("labsolutions_big5/std-100.txt"))
    assert cf.encoding == "big5" and "咖啡因" in (cf.sample_name or "")
    text = _real("labsolutions_big5/std-100.txt").read_bytes().decode("big5")
    gb = tmp_path / "gb.txt"
    gb.write_bytes(text.replace("咖啡因-樣品", "咖啡因-样品").encode("gb18030"))
    cf2 = read_chromatogram_file(gb)
    assert cf2.encoding == "gb18030" and cf2.sample_name == "咖啡因-样品20161017"
    west = tmp_path / "west.csv"
    west.write_bytes("time,signal [µV·s]\n0,1\n1,2\n2,3\n".encode("cp1252"))
    assert read_chromatogram_file(west).encoding is None  # plain CSV: no encoding kept
    from drivers.files.text import decode
    assert decode("[µV·s]".encode("cp1252"), "x") == ("[µV·s]", "cp1252")


def test_andi_ms_read_as_total_ion_chromatogram() -> None:
    cf = read_chromatogram_file(_real("andi_ms/lcms_sim_gdgts_1.CDF"))
    assert cf.source_format == "andi-ms" and cf.traces[0].channel == "TIC"


def test_vendor_minus_one_is_absent(tmp_path: Path) -> None:
    """LabSolutions writes -1 where it computed no value: absent, never a value."""
    text = _real("labsolutions_multichannel/STD_100.txt").read_text(encoding="utf-8")
    row = "1\t15.360\t15.002\t15.885\t32406\t1661\t"
    assert row in text
    p = tmp_path / "minus1.txt"
    p.write_text(text.replace(row, "1\t15.360\t15.002\t15.885\t32406\t-1\t"), encoding="utf-8")
    pk = read_chromatogram_file(p).traces[0].peak_table.peaks[0]  # type: ignore[union-attr]
    assert pk.height is None and pk.area == 32406


def _cut(src: Path, dst: Path, keep: float) -> Path:
    raw = src.read_bytes()
    dst.write_bytes(raw[:int(len(raw) * keep)])
    return dst


def _garble(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    raw = src.read_bytes()
    assert old in raw
    dst.write_bytes(raw.replace(old, new, 1))
    return dst


BROKEN = [
    ("labsolutions cut", lambda d: _cut(_real("labsolutions_multichannel/STD_100.txt"), d / "cut.txt", 0.3)),
    ("labsolutions garbled", lambda d: _garble(_real("labsolutions/Output-sample 0.txt"), d / "g.txt",
                                               b"0.00833,-132", b"0.00833,-1x2")),
    ("chromeleon cut", lambda d: _cut(_real("chromeleon7/IgG Vtag 1_ACQUITY FLR ChA.txt"), d / "c.txt", 0.5)),
    ("chromeleon garbled", lambda d: _garble(_real("chromeleon/Adenosine Stadards_ 0.5 mM.txt"), d / "g.txt",
                                             b"0,001667\t0,10\t-0,018550", b"0,001667\t0,10\t-0,0x8550")),
    ("empower garbled", lambda d: _garble(_real("empower/results1844.arw"), d / "g.arw", b"\r0.025\t", b"\r0.0z5\t")),
    ("empower header only", lambda d: _cut(_real("empower/results1844.arw"), d / "h.arw", 0.0012)),
    ("chemstation .ch cut", lambda d: _cut(_real("chemstation/001F0101.D/FID1A.ch"), d / "FID1A.ch", 0.05)),
    ("chemstation .ch garbled", lambda d: _garble(_real("chemstation/chemstation_mwd.d/mwd1A.ch"), d / "m.ch",
                                                  b"\x0230", b"\x0299")),
    ("aia cut", lambda d: _cut(_real("aia/agilent-hplc.cdf"), d / "cut.cdf", 0.5)),
    ("andi-ms cut", lambda d: _cut(_real("andi_ms/lcms_sim_gdgts_1.CDF"), d / "cut.CDF", 0.3)),
    ("masshunter garbled", lambda d: _garble(_real("masshunter_csv/RAU-R505-00.D/tic_front.csv"), d / "tic.csv",
                                             b"1.0986,27066316", b"1.0986,2706631x")),
]


@pytest.mark.parametrize("make", [b[1] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_cut_or_garbled_export_is_a_typed_error(make, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = make(tmp_path)
    with pytest.raises(ChromatogramFileError) as e:
        read_chromatogram_file(path)
    assert str(path) in str(e.value)
    assert main(["chrom", "integrate", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cut_agilent_folder_is_a_typed_error(tmp_path: Path) -> None:
    d = tmp_path / "RUN.D"
    shutil.copytree(_real("chemstation/001F0101.D"), d)
    _cut(d / "TCD2B.ch", d / "TCD2B.ch", 0.05)
    with pytest.raises(ChromatogramFileError, match="TCD2B.ch"):
        read_chromatogram_file(d)


def test_any_reader_failure_is_a_typed_error() -> None:
    """read_chromatogram_bytes turns whatever a reader raises on malformed input (here the csv module's
    field-size limit) into a ChromatogramFileError naming the file (the watch folder quarantines it)."""
    huge = b"time,signal\n0,1\n\"" + b"x" * 200_000 + b"\",2\n"
    with pytest.raises(ChromatogramFileError, match="huge.csv"):
        read_chromatogram_bytes(huge, "huge.csv")


def test_utf16_with_and_without_bom(tmp_path: Path) -> None:
    """Windows data systems also write UTF-16 (ChemStation reports with a BOM; a LabSolutions export
    saved as "Unicode" has none): both read as the original."""
    text = _real("labsolutions_multichannel/STD_12.5.txt").read_text(encoding="utf-8")
    base = read_chromatogram_file(_real("labsolutions_multichannel/STD_12.5.txt"))
    for name, data, enc in (("bom.txt", text.encode("utf-16"), "utf-16"),
                            ("nobom.txt", text.encode("utf-16-le"), "utf-16-le")):
        (tmp_path / name).write_bytes(data)
        cf = read_chromatogram_file(tmp_path / name)
        assert cf.encoding == enc and cf.sample_id == base.sample_id
        np.testing.assert_array_equal(cf.traces[2].signal, base.traces[2].signal)
