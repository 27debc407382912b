"""Charts (PNG/SVG) and the zh-CN PDFs of a scored round; the demo round end to end."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from lims.db.engine import session_scope
from lims.pt import charts, provider, reports
from lims.pt.demo import run_demo_round
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
