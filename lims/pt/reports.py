"""PDF reports of a scored PT round in zh-CN (ISO/IEC 17043:2023 7.4.3 report contents).

- :func:`render_participant_report`: one participant's results and scores, the assigned value,
  u(x_pt), σ_pt and how each was obtained, homogeneity/stability outcome, combined scores and
  false results, and per analyte the z-score chart of all participants (theirs highlighted) and the
  histogram with kernel density.
- :func:`render_summary_report`: every participant by code, statistics per analyte, the explicit
  outlier list per analyte (|z| ≥ 3, false positives/negatives), the charts.

Every page carries the round code and "第 n 页 共 N 页 / Page n of N" (drawn by
:func:`lims.reports.pdf.numbered_canvas`, which knows N); the last flowable is the end-of-report
mark. Every font in the files is the embedded CJK TrueType subset (``initialFontName``, styles, charts).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from lims.clock import as_utc
from lims.db.models_pt import PtParticipant, PtRound, PtRoundAnalyte, RoundStatus
from lims.pt import charts
from lims.pt.provider import get_round, participants
from lims.pt.views import (
    CLASS_ZH,
    DETECTION_ZH,
    OUTLIER_KIND_ZH,
    STATUS_ZH,
    outliers,
    score_rows,
    sigma_method_text,
)
from lims.reports.fonts import register_cjk_font
from lims.reports.page import PageFurniture
from lims.reports.pdf import end_of_report_mark, numbered_canvas, page_label
from lims.services.errors import Conflict, NotFound

MARGIN = 15 * mm
CHART_WIDTH = A4[0] - 2 * MARGIN
LANGUAGE = "zh-CN"
OUTLIER_WIDTHS = (30 * mm, 36 * mm, 30 * mm, 20 * mm, 20 * mm)
#: The end-of-report mark shared with the test reports (ISO/IEC 17025:2017 7.8.2.1 d).
END_MARK = end_of_report_mark(LANGUAGE)
SCORED = (RoundStatus.SCORED, RoundStatus.PUBLISHED)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}g}"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("pt-body", fontName=font, fontSize=9, leading=13, wordWrap="CJK")
    return {
        "title": ParagraphStyle("pt-title", parent=base, fontSize=16, leading=22, alignment=1, spaceAfter=4),
        "sub": ParagraphStyle("pt-sub", parent=base, fontSize=9.5, alignment=1, spaceAfter=6),
        "h": ParagraphStyle("pt-h", parent=base, fontSize=11, leading=15, spaceBefore=8, spaceAfter=3,
                            keepWithNext=1),
        "body": base,
        "cell": ParagraphStyle("pt-cell", parent=base, fontSize=7.5, leading=9.5),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(rows: Sequence[Sequence[Any]], font: str, widths: Sequence[float] | None = None) -> Table:
    t = Table([list(r) for r in rows], colWidths=widths, repeatRows=1)
    t.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8E8E8")),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return t


def _page_furniture(rnd: PtRound, font: str, label: str) -> PageFurniture:
    """Header with the round code, footer with "第 n 页 共 N 页 / Page n of N" on every page (ISO/IEC 17043
    report contents: identification of each page and of the end of the report; as the test reports,
    ISO/IEC 17025:2017 7.8.2.1 d)."""
    return PageFurniture(
        font=font, font_size=8, margin_x=MARGIN, header_drop=9 * mm, header_rule_gap=2 * mm, line_width=0.5,
        header_left=f"能力验证 / Proficiency testing  {rnd.scheme.provider_name}",
        header_right=f"轮次 / round {rnd.code}  {label}", footer_left=rnd.code,
        page_text=lambda number, total: page_label(number, total, LANGUAGE), page_size=A4)


def _build(path: Path, story: list[Flowable], rnd: PtRound, font: str, label: str) -> Path:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 2 * mm,
                            bottomMargin=18 * mm, invariant=1, initialFontName=font, initialFontSize=9,
                            lang="zh-CN", title=f"{rnd.code} {label}", author=rnd.scheme.provider_name,
                            subject=rnd.code, creator="county-lims")
    page_count: list[int] = []
    doc.build(story, canvasmaker=numbered_canvas(_page_furniture(rnd, font, label), page_count))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def _scored_round(s: Session, round_code: str) -> PtRound:
    rnd = get_round(s, round_code)
    if rnd.status not in SCORED:
        raise Conflict(f"round {round_code} is {rnd.status}: reports need a scored round", field="status")
    return rnd


def _round_block(rnd: PtRound, st: dict[str, ParagraphStyle], font: str) -> list[Flowable]:
    rows = [("项目 / item", "内容 / value"),
            ("能力验证计划 / scheme", f"{rnd.scheme.name}（{rnd.scheme.code}）"),
            ("组织者 / provider", rnd.scheme.provider_name),
            ("轮次 / round", f"{rnd.code}  {rnd.title}"),
            ("样品基质 / test material", rnd.matrix or "—"),
            ("结果截止时间 / deadline (UTC)", as_utc(rnd.deadline).strftime("%Y-%m-%d %H:%M")),
            ("状态 / status", STATUS_ZH.get(rnd.status, rnd.status))]
    return [_table(rows, font, [55 * mm, CHART_WIDTH - 55 * mm])]


def _analyte_stats_rows(rnd: PtRound) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("分析物", "单位", "MRRL", "n", "指派值 x_pt", "u(x_pt)", "σ_pt", "s*", "统计量",
                                    "均匀性", "稳定性")]
    for a in rnd.analytes:
        hom = a.homogeneity or {}
        sta = a.stability or {}
        rows.append((a.name_zh or a.code, a.unit, _fmt(a.mrrl), str(a.n_results or 0),
                     _fmt(a.assigned_value, 4) if a.present else "未添加", _fmt(a.u_assigned),
                     _fmt(a.sigma_pt), _fmt(a.robust_sd), a.statistic or "—",
                     _pass(hom.get("passed"), hom.get("passed_expanded")), _pass(sta.get("passed"), None)))
    return rows


def _pass(ok: bool | None, expanded: bool | None) -> str:
    if ok is None:
        return "—"
    if ok:
        return "合格"
    return "合格(扩展判据)" if expanded else "不合格"


def _method_notes(rnd: PtRound, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = []
    for a in rnd.analytes:
        if not a.present:
            out.append(_p(f"{a.name_zh or a.code}：测试样品中未添加，仅判定假阳性（MRRL {_fmt(a.mrrl)} {a.unit}）。",
                          st["body"]))
            continue
        how = ("参加者公议值（稳健统计 算法A，ISO 13528:2022 C.3.1），u(x_pt) = 1.25 s*/√p"
               if a.assigned_method == "consensus" else "参考值，u(x_pt) 为其标准不确定度")
        hom = a.homogeneity or {}
        hom_text = (f"均匀性 g={hom['g']}, m={hom['m']}：s_s = {_fmt(hom['s_s'])}，判据 0.3σ_pt = "
                    f"{_fmt(hom['criterion'])}，{_pass(hom['passed'], hom['passed_expanded'])}"
                    if hom else "均匀性：未提供数据")
        sta = a.stability or {}
        sta_text = (f"稳定性 |y1−y2|（前后均值差） = {_fmt(sta['difference'])}，判据 {_fmt(sta['criterion'])}，"
                    f"{_pass(sta['passed'], None)}" if sta else "稳定性：未提供数据")
        out.append(_p(f"{a.name_zh or a.code}（{a.code}）：指派值 {_fmt(a.assigned_value, 4)} {a.unit}，{how}；"
                      f"σ_pt = {_fmt(a.sigma_pt)}，{sigma_method_text(a)}；"
                      f"{_statistic_note(a)}。"
                      f"{hom_text}；{sta_text}。", st["body"]))
    return out


def _statistic_note(a: PtRoundAnalyte) -> str:
    return "u(x_pt) > 0.3σ_pt，采用 z′ 比分数" if a.statistic == "z'" else "u(x_pt) ≤ 0.3σ_pt，采用 z 比分数"


def _charts_for(a: PtRoundAnalyte, rows: list[dict[str, Any]], highlight: str | None) -> list[Flowable]:
    mine = [r for r in rows if r["analyte"] == a.code]
    scored = [(r["participant_code"], r["score"]) for r in mine if r["score"] is not None]
    values = [r["result"] for r in mine if r["result"] is not None]
    own = next((r["result"] for r in mine if r["participant_code"] == highlight), None)
    name = a.name_zh or a.code
    out: list[Flowable] = []
    if scored:
        out.append(charts.z_score_chart(scored, highlight=highlight, statistic=a.statistic or "z",
                                        title=f"{name} {a.statistic or 'z'} 比分数 / scores", width=CHART_WIDTH,
                                        height=190))
    out.append(charts.histogram_chart(values, assigned_value=a.assigned_value, sigma_pt=a.sigma_pt, unit=a.unit,
                                      title=f"{name} 结果分布与核密度 / results and kernel density",
                                      highlight_value=own, width=CHART_WIDTH, height=190))
    return out


def render_participant_report(s: Session, round_code: str, participant_code: str, path: Path) -> Path:
    """The report of one participant (by anonymous code) of a scored round."""
    font = register_cjk_font().name
    st = _styles(font)
    rnd = _scored_round(s, round_code)
    part = next((p for p in participants(s, rnd) if p.code == participant_code), None)
    if part is None:
        raise NotFound(f"participant {participant_code} is not in round {round_code}", field="participant_code")
    rows = score_rows(s, rnd)
    mine = [r for r in rows if r["participant_code"] == participant_code]
    story: list[Flowable] = [
        _p("能力验证结果报告", st["title"]),
        _p(f"Proficiency testing report — 参加者代码 / participant {participant_code}", st["sub"]),
    ]
    story += _round_block(rnd, st, font)
    story.append(_p(f"参加者 / participant：{part.lab_name}（代码 {part.code}）", st["body"]))
    story.append(_p("一、本实验室结果与评价 / your results and scores", st["h"]))
    table = [("分析物", "结果", "单位", "指派值", "σ_pt", "统计量", "得分", "ζ", "En", "评价", "定性判定")]
    by_code = {a.code: a for a in rnd.analytes}
    for r in mine:
        a = by_code[r["analyte"]]
        table.append((a.name_zh or a.code, "未检出" if r["result"] is None else _fmt(r["result"], 4), r["unit"],
                      _fmt(a.assigned_value, 4), _fmt(a.sigma_pt), r["statistic"] or "—", _score(r["score"]),
                      _score(r["zeta"]), _score(r["en"]), CLASS_ZH.get(r["classification"] or "", "—"),
                      DETECTION_ZH.get(r["detection"] or "", "")))
    story.append(_table(table, font))
    story.append(Spacer(1, 4))
    story.append(_p(f"综合评分 / combined: AZ² = {_fmt(part.az2)}，RSZ = {_fmt(part.rsz)}，SSZ = {_fmt(part.ssz)}；"
                    f"假阳性 {part.false_positives or 0} 个，假阴性 {part.false_negatives or 0} 个。"
                    "评价：|z| ≤ 2 满意，2 < |z| < 3 可疑，|z| ≥ 3 不满意；|En| ≥ 1 需采取措施（ISO 13528:2022 9.4, 9.7）。",
                    st["body"]))
    story.append(_p("二、指派值、能力评定标准差与样品均匀性/稳定性 / assigned values, σ_pt, homogeneity, stability",
                    st["h"]))
    story.append(_table(_analyte_stats_rows(rnd), font))
    story += _method_notes(rnd, st)
    story.append(_p("三、图示 / charts（红色为本实验室 / red: your laboratory）", st["h"]))
    story += _charts_and_end(rnd, rows, participant_code, st)
    return _build(path, story, rnd, font, f"参加者 {participant_code}")


def render_summary_report(s: Session, round_code: str, path: Path) -> Path:
    """The round summary: statistics per analyte, every participant by code, the charts."""
    font = register_cjk_font().name
    st = _styles(font)
    rnd = _scored_round(s, round_code)
    rows = score_rows(s, rnd)
    parts = participants(s, rnd)
    story: list[Flowable] = [_p("能力验证总结报告", st["title"]), _p("Proficiency testing round summary", st["sub"])]
    story += _round_block(rnd, st, font)
    story.append(_p(f"参加者 {len(parts)} 家 / participants；分析物 {len(rnd.analytes)} 个 / analytes", st["body"]))
    story.append(_p("一、各分析物统计量 / statistics per analyte", st["h"]))
    story.append(_table(_analyte_stats_rows(rnd), font))
    story += _method_notes(rnd, st)
    story.append(_p("二、各参加者得分 / scores by participant code", st["h"]))
    story.append(_table(_participant_scores_table(rnd, parts, rows), font))
    story.append(Spacer(1, 4))
    story.append(_p(_class_counts_text(rows, parts), st["body"]))
    story.append(_p("三、离群结果 / outliers（|z| 或 |z′| ≥ 3，假阳性，假阴性）", st["h"]))
    story += _outlier_blocks(rnd, rows, st, font)
    story.append(_p("四、图示 / charts", st["h"]))
    story += _charts_and_end(rnd, rows, None, st)
    return _build(path, story, rnd, font, "总结报告")


def _charts_and_end(rnd: PtRound, rows: list[dict[str, Any]], highlight: str | None,
                    st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The charts of every analyte in the test material, then the end-of-report mark."""
    out: list[Flowable] = [KeepTogether(_charts_for(a, rows, highlight)) for a in rnd.analytes if a.present]
    return [*out, Spacer(1, 6), _p(END_MARK, st["sub"])]


def _participant_scores_table(rnd: PtRound, parts: Sequence[PtParticipant],
                              rows: list[dict[str, Any]]) -> list[list[str]]:
    """Participant code × analyte: the score (with its class unless satisfactory), else the qualitative
    outcome or the result; AZ² and the false results per participant."""
    head = ["代码"] + [a.name_zh or a.code for a in rnd.analytes] + ["AZ²", "假阳性", "假阴性"]
    cell: dict[tuple[str, str], str] = {}
    for r in rows:
        if r["score"] is not None:
            text = f"{r['score']:.2f}"
            if r["classification"] != "satisfactory":
                text += f" {CLASS_ZH[r['classification']]}"
        else:
            text = DETECTION_ZH.get(r["detection"] or "", "") or ("未检出" if r["result"] is None else _fmt(r["result"]))
        cell[(r["participant_code"], r["analyte"])] = text
    table = [head]
    for p in parts:
        table.append([p.code] + [cell.get((p.code, a.code), "—") for a in rnd.analytes]
                     + [_fmt(p.az2), str(p.false_positives or 0), str(p.false_negatives or 0)])
    return table


def _class_counts_text(rows: list[dict[str, Any]], parts: Sequence[PtParticipant]) -> str:
    counts = {k: sum(1 for r in rows if r["classification"] == k) for k in CLASS_ZH}
    return ("；".join(f"{CLASS_ZH[k]} {v} 个" for k, v in counts.items())
            + f"；假阴性 {sum(p.false_negatives or 0 for p in parts)} 个，"
            f"假阳性 {sum(p.false_positives or 0 for p in parts)} 个。")


def _outlier_blocks(rnd: PtRound, rows: list[dict[str, Any]], st: dict[str, ParagraphStyle],
                    font: str) -> list[Flowable]:
    """Per analyte, the explicit list of outlying results (:func:`lims.pt.views.outliers`), or 无 / none."""
    found = outliers(rows)
    out: list[Flowable] = []
    for a in rnd.analytes:
        mine = [o for o in found if o.analyte == a.code]
        name = f"{a.name_zh or a.code}（{a.code}）"
        if not mine:
            out.append(_p(f"{name}：无 / none", st["body"]))
            continue
        table = [("参加者代码", "类型 / kind", f"结果 ({a.unit})", "统计量", "得分")]
        for o in mine:
            table.append((o.participant_code, OUTLIER_KIND_ZH[o.kind],
                          "未检出" if o.result is None else _fmt(o.result, 4), o.statistic or "—", _score(o.score)))
        grid = _table(table, font, OUTLIER_WIDTHS)
        grid.hAlign = "LEFT"
        out.append(KeepTogether([_p(f"{name}：{len(mine)} 个", st["body"]), grid, Spacer(1, 3)]))
    return out


def write_round_reports(s: Session, round_code: str, out_dir: Path) -> list[Path]:
    """Every participant's report and the summary into ``out_dir`` (file names carry codes only)."""
    rnd = _scored_round(s, round_code)
    out = [render_participant_report(s, round_code, p.code, Path(out_dir) / f"{rnd.code}_{p.code}.pdf")
           for p in participants(s, rnd)]
    out.append(render_summary_report(s, round_code, Path(out_dir) / f"{rnd.code}_summary.pdf"))
    return out
