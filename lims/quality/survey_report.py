"""The annual statistical survey and the management review pack as PDF (reportlab with the project's
embedded CJK font, page n of N, end-of-report mark, as the test and PT reports) and as CSV (every cell
formula-neutralised through :mod:`lims.csv_export`)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lims.csv_export import to_csv
from lims.reports.fonts import register_cjk_font
from lims.reports.page import PageFurniture
from lims.reports.pdf import end_of_report_mark, numbered_canvas, page_label

MARGIN = 15 * mm
WIDTH = A4[0] - 2 * MARGIN
LANGUAGE = "zh-CN"


def _cell(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def csv_text(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    return to_csv(list(columns), rows)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], font: str, widths: Sequence[float],
           st: ParagraphStyle) -> Table:
    data = [[Paragraph(h, st) for h in header]] + [[Paragraph(_cell(c), st) for c in row] for row in rows]
    t = Table(data, colWidths=list(widths), repeatRows=1)
    t.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), font, 8), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return t


def render_pdf(title: str, lab_name: str, ident: str, header: Sequence[str], rows: Sequence[Sequence[object]],
               widths_mm: Sequence[float], notes: Sequence[str] = ()) -> bytes:
    """One titled table document; ``ident`` (e.g. "SURVEY-2026") is on every page's footer."""
    font = register_cjk_font().name
    title_st = ParagraphStyle("title", fontName=font, fontSize=14, leading=18, spaceAfter=6)
    body = ParagraphStyle("body", fontName=font, fontSize=8, leading=10)
    story: list[Flowable] = [Paragraph(title, title_st), Paragraph(lab_name, body), Spacer(1, 4 * mm)]
    story.append(_table(header, rows, font, [w * mm for w in widths_mm], body))
    story += [Spacer(1, 3 * mm)] + [Paragraph(n, body) for n in notes]
    story += [Spacer(1, 4 * mm), Paragraph(end_of_report_mark(LANGUAGE), body)]
    furniture = PageFurniture(font=font, font_size=8, margin_x=MARGIN, header_drop=9 * mm, header_rule_gap=2 * mm,
                              line_width=0.5, header_left=lab_name, header_right=title, footer_left=ident,
                              page_text=lambda n, total: page_label(n, total, LANGUAGE), page_size=A4)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 2 * mm,
                            bottomMargin=18 * mm, invariant=1, initialFontName=font, initialFontSize=9, lang="zh-CN",
                            title=title, author=lab_name, subject=ident, creator="county-lims")
    doc.build(story, canvasmaker=numbered_canvas(furniture, []))
    return buf.getvalue()


SURVEY_NOTES = ("口径：年度按北京时间 1 月 1 日至 12 月 31 日，以样品接收时间计；阳性率 = 筛查阳性 / 有判定的筛查结果；"
                "不合格率 = 有不合格或检出禁用药物结果的样品 / 有符合性判定的样品；检测周期 = 接收至最后一次批准签名的天数。",
                "Definitions: see lims.quality.statistics (year in China Standard Time by receipt; rates in per cent).")


def survey_pdf(rows: Sequence[Mapping[str, object]], *, year: int, lab_name: str) -> bytes:
    return render_pdf(f"检测机构年度统计调查表 / Annual statistical survey {year}", lab_name, f"SURVEY-{year}",
                      ("类别 / section", "项目 / item", "数值 / value"),
                      [(r["section"], r["item"], r["value"]) for r in rows], (60, 90, 30), SURVEY_NOTES)


def review_pdf(rows: Sequence[Mapping[str, object]], *, year: int, lab_name: str) -> bytes:
    return render_pdf(f"管理评审输入 / Management review inputs {year}（ISO/IEC 17025:2017 8.9.2）", lab_name,
                      f"MR-{year}", ("条款 / clause", "输入 / input", "数值 / value"),
                      [(r["clause"], r["item"], r["value"]) for r in rows], (22, 118, 40))
