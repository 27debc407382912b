"""Charts (PNG/SVG) and the zh-CN PDFs of a scored round; the demo round end to end."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from lims.db.engine import session_scope
from lims.demo.pt_round import run_demo_round
from lims.pt import charts, provider, reports, scoring, views
from lims.reports.pdf import end_of_report_mark
from lims.services.errors import Conflict


def _fonts(path) -> list[tuple[str, bool]]:
    """(BaseFont, embedded) of every font on every page, descendants of Type0 fonts included."""
    out = []
    for page in PdfReader(path).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            targets = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for t in targets:
                desc = t.get("/FontDescriptor")
                embedded = desc is not None and any(k in desc.get_object() for k in ("/FontFile", "/FontFile2",
                                                                                      "/FontFile3"))
                out.append((str(font["/BaseFont"]), embedded))
    return out


def _text(path) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in PdfReader(path).pages))


def test_charts_png_and_svg():
    d = charts.z_score_chart([("P1001", 0.4), ("P1002", -2.5), ("P1003", 7.1)], highlight="P1002", title="毒死蜱 z")
    png = charts.to_png(d, dpi=72)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (480, 220)
    # the highlighted bar is drawn in the highlight colour, the others are not
    rgb = np.asarray(img.convert("RGB")).reshape(-1, 3).astype(int)
    reds = int(((rgb[:, 0] > 180) & (rgb[:, 1] < 80) & (rgb[:, 2] < 80)).sum())
    assert reds > 50
    svg = charts.to_svg(d)
    root = ET.fromstring(svg)
    texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "毒死蜱" in texts and "P1002" in texts and "7.1" in texts  # capped bar prints its value
    assert b"WenQuanYi Micro Hei" in svg and b"LimsCJK" not in svg
    h = charts.histogram_chart([0.14, 0.15, 0.16, 0.35], assigned_value=0.15, sigma_pt=0.0375, unit="mg/kg",
                               highlight_value=0.35)
    assert Image.open(io.BytesIO(charts.to_png(h))).size == (960, 440)
    assert b"x_pt = 0.15" in charts.to_svg(h)


def test_kernel_density_integrates_to_one():
    grid = np.linspace(-10, 10, 4001)
    dens = charts.kernel_density([0.1, 0.5, 0.7, 1.3, 2.0], grid)
    assert float(np.trapezoid(dens, grid)) == pytest.approx(1.0, abs=1e-6)


def test_demo_round_writes_pdfs_with_embedded_chinese_fonts(db_factory, tmp_path):
    out = run_demo_round(db_factory, out_dir=tmp_path, participants=6, analytes=3, seed=11)
    assert out["participants"] == 6 and out["analytes"] == 3
    assert out["unsatisfactory"] >= 1 and out["false_negatives"] == 1
    assert out["scores"] == 6 * 3 - 1  # the false negative has no z
    assert len(out["pdfs"]) == 7
    summary = next(p for p in out["pdfs"] if p.endswith("_summary.pdf"))
    one = out["pdfs"][0]
    for path in (summary, one):
        fonts = _fonts(path)
        assert fonts and all(emb for _, emb in fonts), fonts
        assert not any("Helvetica" in name for name, _ in fonts)
    text = _text(one)
    assert "能力验证结果报告" in text and "毒死蜱" in text and "指派值" in text and "均匀性" in text
    code = re.search(r"_(P\d{4})\.pdf$", one).group(1)
    assert code in text
    stext = _text(summary)
    assert "能力验证总结报告" in stext and "假阴性" in stext and "不满意" in stext
    with db_factory() as s:
        codes = [p.code for p in provider.participants(s, provider.get_round(s, out["round"]))]
    assert all(c in stext for c in codes)


def test_reports_need_a_scored_round(db_factory, make_round, pt, tmp_path):
    make_round(2)
    with session_scope(db_factory, actor="qa") as s, pytest.raises(Conflict):
        reports.render_summary_report(s, pt.round, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


# ---------------------------------------------------------------------------------------------- page marks, outliers

PROCYMIDONE = [0.30, 0.31, 0.29, 0.32, 0.30, 0.28, 0.31, None]  # the last lab misses it: false negative
#: omethoate is not in the test material; the third lab reports it above the MRRL: false positive
OMETHOATE = [None, None, 0.05, None, None, None, None, None]


def _scored_round(db_factory, make_round, pt) -> list[str]:
    """Eight labs, three analytes; returns the participant codes in the order of the result lists."""
    codes = make_round(8, specs=[provider.AnalyteSpec("chlorpyrifos", 0.01, name_zh="毒死蜱"),
                                 provider.AnalyteSpec("procymidone", 0.01, name_zh="腐霉利"),
                                 provider.AnalyteSpec("omethoate", 0.01, name_zh="氧乐果", present=False)])
    rows = (pt.rows_for(codes, pt.chlorpyrifos) + pt.rows_for(codes, PROCYMIDONE, "procymidone")
            + pt.rows_for(codes, OMETHOATE, "omethoate"))
    with session_scope(db_factory, actor="qa") as s:
        provider.submit_results(s, pt.round, rows, now=pt.t0)
        provider.close_round(s, pt.round, now=pt.deadline)
        scoring.score_round(s, pt.round, now=pt.deadline)
    return codes


def _page_texts(path) -> list[str]:
    return [re.sub(r"\s+", "", p.extract_text() or "") for p in PdfReader(path).pages]


def _pdffonts(path) -> list[list[str]]:
    """Rows of poppler's pdffonts (name, type, encoding, emb, sub, uni, object, generation)."""
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


def test_every_page_carries_round_code_and_page_n_of_n_and_the_last_the_end_mark(db_factory, make_round, pt,
                                                                                   tmp_path):
    codes = _scored_round(db_factory, make_round, pt)
    with session_scope(db_factory, actor="qa") as s:
        paths = [reports.render_summary_report(s, pt.round, tmp_path / "summary.pdf"),
                 reports.render_participant_report(s, pt.round, codes[0], tmp_path / "p.pdf")]
    end_mark = re.sub(r"\s+", "", end_of_report_mark("zh-CN"))
    assert end_mark == "（以下空白）/Endofreport"
    for path in paths:
        pages = _page_texts(path)
        total = len(pages)
        assert total >= 2, path  # the charts alone take more than one page
        for n, text in enumerate(pages, start=1):
            assert f"第{n}页共{total}页/Page{n}of{total}" in text, (path, n)
            assert pt.round in text
            assert (end_mark in text) == (n == total), (path, n)
        fonts = _fonts(path)
        assert fonts and all(emb for _, emb in fonts), fonts
        if shutil.which("pdffonts"):
            rows = _pdffonts(path)
            assert rows and all(r[-5] == "yes" for r in rows), rows  # the "emb" column


def test_summary_lists_outliers_per_analyte(db_factory, make_round, pt, tmp_path):
    codes = _scored_round(db_factory, make_round, pt)
    with session_scope(db_factory, actor="qa") as s:
        rnd = provider.get_round(s, pt.round)
        found = views.outliers(views.score_rows(s, rnd))
        path = reports.render_summary_report(s, pt.round, tmp_path / "summary.pdf")
    # by construction: the 0.35 chlorpyrifos result (z ≈ 5 with σ_pt = 25 % of x_pt), the missing
    # procymidone result, the omethoate found in a material that has none
    assert {(o.analyte, o.participant_code, o.kind) for o in found} == {
        ("chlorpyrifos", codes[7], views.OUTLIER_ACTION), ("procymidone", codes[7], "false negative"),
        ("omethoate", codes[2], "false positive")}
    action = next(o for o in found if o.kind == views.OUTLIER_ACTION)
    assert action.score >= 3 and action.result == 0.35
    text = "".join(_page_texts(path))
    section = text[text.index("三、离群结果"):text.index("四、图示")]
    chunks = re.split(r"(毒死蜱|腐霉利|氧乐果)（", section)[1:]
    per_analyte = dict(zip(chunks[0::2], chunks[1::2], strict=True))
    assert codes[7] in per_analyte["毒死蜱"] and "|z|≥3不满意" in per_analyte["毒死蜱"]
    assert f"{codes[7]}假阴性未检出" in per_analyte["腐霉利"]
    assert f"{codes[2]}假阳性0.05" in per_analyte["氧乐果"]
    assert all(c not in section for c in codes[3:7])  # satisfactory labs are not listed


def test_outliers_boundary_is_three_inclusive():
    def row(code, score, detection=""):
        return {"analyte": "a", "participant_code": code, "result": 1.0, "statistic": "z", "score": score,
                "detection": detection}

    rows = [row("P1", 3.0), row("P2", -3.0), row("P3", 2.999), row("P4", -2.5), row("P5", None, "true negative"),
            row("P6", None, "false positive"), row("P7", 0.1, "true positive")]
    assert [(o.participant_code, o.kind) for o in views.outliers(rows)] == [
        ("P1", views.OUTLIER_ACTION), ("P2", views.OUTLIER_ACTION), ("P6", "false positive")]


def test_z_trend_chart_png_and_svg():
    points = [charts.TrendPoint("R-2022", "2022-05-01", 0.4, 0.4), charts.TrendPoint("R-2023", "2023-05-01", -2.4, -1.4),
              charts.TrendPoint("R-2024", "2024-05-01", 3.6, 0.9)]
    d = charts.z_trend_chart(points, title="毒死蜱 得分趋势")
    svg = charts.to_svg(d)
    root = ET.fromstring(svg)
    texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "毒死蜱" in texts and all(p.label in texts and p.date in texts for p in points)
    assert b"stroke-dasharray" in svg  # the running RSZ and the ±2/±3 lines
    img = Image.open(io.BytesIO(charts.to_png(d, dpi=72)))
    assert img.format == "PNG" and img.size == (480, 220)
    rgb = np.asarray(img.convert("RGB")).reshape(-1, 3).astype(int)
    reds = int(((rgb[:, 0] > 180) & (rgb[:, 1] < 80) & (rgb[:, 2] < 80)).sum())
    assert reds > 10  # the |z| ≥ 3 marker
    calm = charts.to_png(charts.z_trend_chart(points[:1]), dpi=72)
    rgb = np.asarray(Image.open(io.BytesIO(calm)).convert("RGB")).reshape(-1, 3).astype(int)
    assert int(((rgb[:, 0] > 180) & (rgb[:, 1] < 80) & (rgb[:, 2] < 80)).sum()) == 0
    empty = charts.to_svg(charts.z_trend_chart([]))
    assert "无得分".encode() in empty
