"""Render a :class:`~lims.reports.model.TestReport` as a PDF (reportlab platypus).

zh-CN by default with English as the second language (labels read "检测结果 / Results");
``language="en"`` puts English first.  Every page carries the laboratory, the report ID
and "第 n 页 共 N 页 / Page n of N" (ISO/IEC 17025:2017 7.8.2.1 d); the last flowable is
the end-of-report mark.  Page 1 carries the CMA mark placeholder (RB/T 214) and a QR code
whose payload holds the report ID and the verification hash (:func:`content_hash` of the
report's canonical content, so the code can be printed inside the PDF it describes).

Every font in the file is the embedded CJK TrueType subset: the canvas starts each page
in that font (``initialFontName``), and every paragraph and table style uses it.  The
canvas is ``invariant`` (fixed creation date and document ID), so the same data and the
same font file give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCode
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from lims.reports.fonts import RegisteredFont, missing_glyphs, register_cjk_font
from lims.reports.model import (
    ITEMS_TESTED_STATEMENT_EN,
    ITEMS_TESTED_STATEMENT_ZH,
    ReportDataError,
    SignatureRole,
    TestReport,
    Verdict,
    content_hash,
    iter_text_fields,
)
from lims.reports.page import PageFurniture

PAGE_SIZE = A4
MARGIN_X = 15 * mm
MARGIN_TOP = 24 * mm
MARGIN_BOTTOM = 18 * mm
CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN_X

#: Side of the printed QR code and its quiet zone in modules (ISO/IEC 18004 asks for 4).
QR_SIZE = 32 * mm
QR_BORDER = 4
QR_LEVEL = "M"

END_OF_REPORT_ZH = "（以下空白）"
END_OF_REPORT_EN = "End of report"


#: Characters the embedded font prints as nothing, and the text printed instead.
PRINT_SUBSTITUTES: dict[str, str] = {"\u2103": "\u00b0C", "\u2109": "\u00b0F"}  # ℃ → °C, ℉ → °F


class UnprintableTextError(ReportDataError):
    """A report field holds a character the embedded CJK font has no glyph for."""


@dataclass(frozen=True)
class RenderedReport:
    """The PDF written: where, the SHA-256 of its bytes, and how many pages it has."""

    path: Path
    sha256: str
    page_count: int


# --- labels -------------------------------------------------------------------------------

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("检验检测报告", "Test Report"),
    "report_no": ("报告编号", "Report No."),
    "version": ("版本", "Version"),
    "supersedes": ("替代报告", "Supersedes report"),
    "cma": ("CMA 标志（位置）", "CMA mark (placeholder)"),
    "cma_no": ("资质认定证书编号", "CMA certificate No."),
    "section_info": ("样品及检测信息", "Sample and test information"),
    "laboratory": ("检测机构", "Laboratory"),
    "lab_address": ("机构地址", "Laboratory address"),
    "location": ("检测地点", "Location of testing"),
    "customer": ("委托单位", "Customer"),
    "task": ("监测任务", "Monitoring task"),
    "issuing_authority": ("任务下达单位", "Issuing authority"),
    "sample_id": ("样品编号", "Sample ID"),
    "commodity": ("样品名称", "Commodity"),
    "description": ("样品描述", "Description"),
    "quantity": ("样品数量", "Quantity"),
    "condition": ("样品状态", "Condition on receipt"),
    "producer": ("受检单位", "Producer"),
    "uscc": ("统一社会信用代码", "Unified social credit code"),
    "sampled_at": ("抽样时间", "Sampling date-time"),
    "sampling_place": ("抽样地点", "Sampling place"),
    "region_code": ("行政区划代码", "Region code"),
    "sampling_link": ("抽样环节", "Sampling link"),
    "samplers": ("抽样人员", "Samplers"),
    "certificate": ("合格证编号", "Certificate No."),
    "traceability": ("追溯码", "Traceability code"),
    "sampling_plan": ("抽样方案", "Sampling plan"),
    "sampling_method": ("抽样方法", "Sampling method"),
    "received_on": ("收样日期", "Date of receipt"),
    "testing_dates": ("检测日期", "Dates of testing"),
    "issued_on": ("签发日期", "Date of issue"),
    "methods": ("检测依据", "Test methods"),
    "section_results": ("检测结果", "Results"),
    "col_no": ("序号", "No."),
    "col_analyte": ("检测项目", "Analyte"),
    "col_result": ("检测结果", "Result"),
    "col_unit": ("单位", "Unit"),
    "col_lod_loq": ("检出限/定量限", "LOD/LOQ"),
    "col_mrl": ("限量值（依据）", "MRL (source)"),
    "col_u": ("扩展不确定度", "U (k)"),
    "col_verdict": ("单项判定", "Verdict"),
    "col_method": ("检测方法", "Method"),
    "external": ("外部提供者结果", "Result from external provider"),
    "section_conclusion": ("检测结论", "Conclusion"),
    "decision_rule": ("判定规则", "Decision rule"),
    "section_deviations": ("偏离、增加或删减", "Deviations, additions, exclusions"),
    "none": ("无", "None"),
    "section_amendment": ("报告修改", "Amendment"),
    "amendment_reason": ("修改原因", "Reason"),
    "section_statements": ("声明", "Statements"),
    "section_signatures": ("签名", "Signatures"),
    "col_role": ("职责", "Role"),
    "col_name": ("签名人", "Printed name"),
    "col_signed_at": ("签署时间", "Date and time"),
    "col_meaning": ("签名含义", "Meaning"),
    "seal": ("检验检测专用章（盖章处）", "Inspection seal (placeholder)"),
    "section_verification": ("报告核验", "Verification"),
    "hash": ("内容哈希 SHA-256", "Content hash SHA-256"),
    "verify_hint": (
        "扫描二维码或访问核验地址，比对报告编号与内容哈希。",
        "Scan the QR code or open the verification address and compare the report ID and hash.",
    ),
    "verify_url": ("核验地址", "Verification address"),
    "notes": ("备注", "Notes"),
    "deviation": ("偏离", "Deviation"),
    "addition": ("增加", "Addition"),
    "exclusion": ("删减", "Exclusion"),
    "to": ("至", "to"),
}

_VERDICTS: dict[Verdict, tuple[str, str]] = {
    Verdict.COMPLIANT: ("合格", "Compliant"),
    Verdict.NON_COMPLIANT: ("不合格", "Non-compliant"),
    Verdict.COMPLIANT_WITHIN_UNCERTAINTY: ("合格（不确定度范围内）", "Compliant within uncertainty"),
    Verdict.NOT_EVALUATED: ("未判定", "Not evaluated"),
    Verdict.BANNED_SUBSTANCE_DETECTED: ("检出禁用物质", "Banned substance detected"),
}

_ROLES: dict[SignatureRole, tuple[str, str]] = {
    SignatureRole.TESTER: ("检验", "Tested by"),
    SignatureRole.CHECKER: ("审核", "Checked by"),
    SignatureRole.APPROVER: ("批准（授权签字人）", "Approved by (authorized signatory)"),
}


def _bi(pair: tuple[str, str], language: str, sep: str = " / ") -> str:
    zh, en = pair
    return f"{en}{sep}{zh}" if language == "en" else f"{zh}{sep}{en}"


def _label(key: str, language: str, sep: str = " / ") -> str:
    return _bi(_LABELS[key], language, sep)


def page_label(page: int, total: int, language: str) -> str:
    """The page mark printed on every page: "第 n 页 共 N 页 / Page n of N"."""
    return _bi((f"第 {page} 页 共 {total} 页", f"Page {page} of {total}"), language)


def end_of_report_mark(language: str) -> str:
    """The end-of-report mark (ISO/IEC 17025:2017 7.8.2.1 d)."""
    return _bi((END_OF_REPORT_ZH, END_OF_REPORT_EN), language)


def format_datetime(value: dt.datetime) -> str:
    """Date-time as printed on a signature: local time and its UTC offset (21 CFR 11.50)."""
    offset = value.strftime("%z")
    return f"{value:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}"


def qr_payload(report: TestReport, digest: str | None = None) -> str:
    """Text carried by the QR code: the report ID and its verification hash.

    With ``verify_base_url`` it is ``{base}/{report_id}?sha256={hash}`` (the ``GET /verify``
    endpoint); otherwise ``LIMS-REPORT;id={report_id};sha256={hash}``.
    """
    digest = digest or content_hash(report)
    if report.verify_base_url:
        return f"{report.verify_base_url.rstrip('/')}/{quote(report.report_id, safe='')}?sha256={digest}"
    return f"LIMS-REPORT;id={report.report_id};sha256={digest}"


# --- styles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    center: ParagraphStyle


def _styles(font: str) -> _Styles:
    base = ParagraphStyle(
        "lims-body", fontName=font, fontSize=9, leading=12.5, wordWrap="CJK", alignment=TA_LEFT
    )
    return _Styles(
        title=ParagraphStyle("lims-title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER),
        subtitle=ParagraphStyle("lims-subtitle", parent=base, fontSize=9.5, leading=13, alignment=TA_CENTER),
        heading=ParagraphStyle(
            "lims-heading", parent=base, fontSize=11, leading=15, spaceBefore=7, spaceAfter=3, keepWithNext=1
        ),
        body=base,
        small=ParagraphStyle("lims-small", parent=base, fontSize=7.5, leading=10),
        cell=ParagraphStyle("lims-cell", parent=base, fontSize=7.5, leading=9.5),
        cell_head=ParagraphStyle(
            "lims-cell-head", parent=base, fontSize=7.5, leading=9.5, alignment=TA_CENTER
        ),
        center=ParagraphStyle("lims-center", parent=base, fontSize=10, leading=14, alignment=TA_CENTER),
    )


def printable(text: str) -> str:
    """``text`` with :data:`PRINT_SUBSTITUTES` applied."""
    for char, substitute in PRINT_SUBSTITUTES.items():
        text = text.replace(char, substitute)
    return text


def check_printable(report: TestReport, font: RegisteredFont) -> None:
    """Raise :class:`UnprintableTextError` naming the field if any text would print blank.

    A character with no glyph would silently vanish from the printed record (ALCOA+: legible).
    """
    for where, text in iter_text_fields(report):
        missing = missing_glyphs(font, printable(text))
        if missing:
            chars = ", ".join(f"U+{ord(c):04X} {c!r}" for c in missing)
            raise UnprintableTextError(
                f"{where}: {chars} has no glyph in the font {font.path.name} / 字体缺少该字符的字形"
            )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (substituted, escaped; newlines become line breaks)."""
    return Paragraph(escape(printable(text)).replace("\n", "<br/>"), style)


def _grid_style(font: str, header_rows: int = 0) -> list[tuple[Any, ...]]:
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header_rows:
        commands.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#E8E8E8")))
    return commands


# --- page furniture -----------------------------------------------------------------------


def numbered_canvas(draw_page: Callable[[Canvas, int, int], None], page_count: list[int]) -> type[Canvas]:
    """A canvas class that holds every page until the end, then draws the page marks knowing N."""

    class _NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._page_states: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._page_states.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._page_states)
            page_count.append(total)
            for number, state in enumerate(self._page_states, start=1):
                self.__dict__.update(state)
                draw_page(self, number, total)
                Canvas.showPage(self)
            Canvas.save(self)

    return _NumberedCanvas


def _page_furniture(report: TestReport, font: str) -> PageFurniture:
    lang = report.language
    id_text = f"{_label('report_no', lang)}: {report.report_id}"
    if report.version > 1:
        id_text += f"  ({_label('version', lang)} {report.version})"
    return PageFurniture(
        font=font, font_size=8.5, margin_x=MARGIN_X, header_drop=14 * mm, header_rule_gap=2.5 * mm, line_width=0.6,
        header_left=printable(report.laboratory.name), header_right=id_text, footer_left=report.report_id,
        page_text=lambda number, total: page_label(number, total, lang), page_size=PAGE_SIZE)


# --- body ---------------------------------------------------------------------------------


def _qr_code(payload: str) -> QrCode:
    """The QR flowable; drawn straight on the canvas (a graphics Drawing would select Helvetica)."""
    return QrCode(payload, width=QR_SIZE, height=QR_SIZE, qrBorder=QR_BORDER, qrLevel=QR_LEVEL)


def _title_block(report: TestReport, st: _Styles, font: str, payload: str) -> Flowable:
    lang = report.language
    cma_rows = [
        [_p("CMA", ParagraphStyle("lims-cma", parent=st.center, fontSize=16, leading=20))],
        [
            _p(
                _label("cma", lang, "\n"),
                ParagraphStyle("lims-cma-note", parent=st.small, alignment=TA_CENTER),
            )
        ],
    ]
    if report.laboratory.cma_certificate_number:
        cma_rows.append(
            [
                _p(
                    f"{_label('cma_no', lang, chr(10))}\n{report.laboratory.cma_certificate_number}",
                    ParagraphStyle("lims-cma-no", parent=st.small, alignment=TA_CENTER),
                )
            ]
        )
    cma_box = Table(cma_rows, colWidths=[38 * mm])
    cma_box.setStyle(
        TableStyle([("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("FONTNAME", (0, 0), (-1, -1), font)])
    )

    title = report.title or _label("title", lang, "\n")
    middle: list[Flowable] = [_p(title, st.title), Spacer(1, 3 * mm)]
    middle.append(_p(f"{_label('report_no', lang)}: {report.report_id}", st.subtitle))
    middle.append(_p(f"{_label('version', lang)}: {report.version}", st.subtitle))
    if report.amendment is not None:
        middle.append(
            _p(f"{_label('supersedes', lang)}: {report.amendment.supersedes_report_id}", st.subtitle)
        )

    table = Table(
        [[cma_box, middle, _qr_code(payload)]],
        colWidths=[42 * mm, CONTENT_WIDTH - 42 * mm - QR_SIZE - 4 * mm, QR_SIZE + 4 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (2, 0), (2, 0), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _kv_table(rows: Sequence[tuple[str, str]], st: _Styles, font: str) -> Table:
    data = [[_p(k, st.cell), _p(v, st.cell)] for k, v in rows]
    table = Table(data, colWidths=[46 * mm, CONTENT_WIDTH - 46 * mm], repeatRows=0)
    style = _grid_style(font)
    style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")))
    table.setStyle(TableStyle(style))
    return table


def _info_rows(report: TestReport) -> list[tuple[str, str]]:
    lang = report.language
    s = report.sample
    smp = s.sampling
    lab = report.laboratory

    def L(key: str) -> str:  # noqa: N802 (short local alias)
        return _label(key, lang)

    customer = report.customer.name
    if report.customer.address:
        customer += f"\n{report.customer.address}"
    if report.customer.contact:
        customer += f"\n{report.customer.contact}"
    rows: list[tuple[str, str]] = [
        (L("laboratory"), lab.name),
        (L("lab_address"), lab.address + (f"\n{lab.phone}" if lab.phone else "")),
        (L("location"), report.testing_location),
        (L("customer"), customer),
    ]
    if report.monitoring_task is not None:
        t = report.monitoring_task
        rows.append((L("task"), f"{t.code}  {t.name}（{t.programme_type}）"))
        rows.append((L("issuing_authority"), t.issuing_authority))
    producer = smp.producer.name
    if smp.producer.unified_social_credit_code:
        producer += f"\n{L('uscc')}: {smp.producer.unified_social_credit_code}"
    if smp.producer.address:
        producer += f"\n{smp.producer.address}"
    rows += [
        (L("sample_id"), s.sample_id),
        (L("commodity"), s.commodity),
        (L("description"), s.description),
        (L("quantity"), s.quantity),
        (L("condition"), s.condition_on_receipt),
        (L("producer"), producer),
        (L("sampled_at"), format_datetime(smp.sampled_at)),
        (L("sampling_place"), f"{smp.place}\n{L('region_code')}: {smp.region_code}"),
        (L("sampling_link"), smp.sampling_link),
        (L("samplers"), "、".join(smp.samplers)),
        (L("certificate"), smp.certificate_code or "—"),
        (L("traceability"), smp.traceability_code or "—"),
        (L("sampling_plan"), smp.sampling_plan),
        (L("sampling_method"), smp.sampling_method),
        (L("received_on"), s.received_on.isoformat()),
        (
            L("testing_dates"),
            f"{report.testing_started_on.isoformat()} {_LABELS['to'][1 if lang == 'en' else 0]} "
            f"{report.testing_completed_on.isoformat()}",
        ),
        (L("issued_on"), report.issued_on.isoformat()),
        (L("methods"), "\n".join(f"{m.code}  {m.title}" for m in report.methods)),
    ]
    return rows


def _external_marks(report: TestReport) -> dict[str, str]:
    """Provider → mark (E1, E2, …) in first-seen order (7.8.2.1 p)."""
    marks: dict[str, str] = {}
    for line in report.results:
        if line.external_provider and line.external_provider not in marks:
            marks[line.external_provider] = f"E{len(marks) + 1}"
    return marks


def _results_table(report: TestReport, st: _Styles, font: str) -> Table:
    lang = report.language
    keys = [
        "col_no",
        "col_analyte",
        "col_result",
        "col_unit",
        "col_lod_loq",
        "col_mrl",
        "col_u",
        "col_verdict",
        "col_method",
    ]
    header = [_p(_label(k, lang, "\n"), st.cell_head) for k in keys]
    marks = _external_marks(report)
    data: list[list[Any]] = [header]
    flagged: list[int] = []
    for i, r in enumerate(report.results, start=1):
        analyte = r.analyte + (f" *{marks[r.external_provider]}" if r.external_provider else "")
        lod_loq = f"{r.lod_text or '—'} / {r.loq_text or '—'}"
        mrl = r.mrl_text or "—"
        if r.mrl_source:
            mrl += f"\n({r.mrl_source})"
        u = "—"
        if r.expanded_uncertainty_text is not None:
            u = f"{r.expanded_uncertainty_text} (k={r.coverage_factor:g})"
        data.append(
            [
                _p(str(i), st.cell_head),
                _p(analyte, st.cell),
                _p(r.result_text, st.cell),
                _p(r.unit, st.cell),
                _p(lod_loq, st.cell),
                _p(mrl, st.cell),
                _p(u, st.cell),
                _p(_bi(_VERDICTS[r.verdict], lang, "\n"), st.cell),
                _p(r.method_code, st.cell),
            ]
        )
        if r.verdict in (Verdict.NON_COMPLIANT, Verdict.BANNED_SUBSTANCE_DETECTED):
            flagged.append(i)
    widths_mm = [8, 30, 22, 12, 18, 22, 18, 22]
    widths = [w * mm for w in widths_mm]
    widths.append(CONTENT_WIDTH - sum(widths))
    table = Table(data, colWidths=widths, repeatRows=1, splitByRow=1)
    style = _grid_style(font, header_rows=1)
    for row in flagged:
        style.append(("BACKGROUND", (0, row), (-1, row), colors.HexColor("#FBE3E3")))
    table.setStyle(TableStyle(style))
    return table


def _signature_block(report: TestReport, st: _Styles, font: str) -> Table:
    lang = report.language
    head = [
        _p(_label(k, lang, "\n"), st.cell_head)
        for k in ("col_role", "col_name", "col_signed_at", "col_meaning")
    ]
    rows: list[list[Any]] = [head]
    for role in (SignatureRole.TESTER, SignatureRole.CHECKER, SignatureRole.APPROVER):
        sig = report.signature(role)
        rows.append(
            [
                _p(_bi(_ROLES[role], lang, "\n"), st.cell),
                _p(sig.printed_name, st.cell),
                _p(format_datetime(sig.signed_at), st.cell),
                _p(sig.meaning, st.cell),
            ]
        )
    signatures = Table(rows, colWidths=[36 * mm, 22 * mm, 34 * mm, 44 * mm], repeatRows=1)
    signatures.setStyle(TableStyle(_grid_style(font, header_rows=1)))
    seal = Table(
        [[_p(_label("seal", lang, "\n"), ParagraphStyle("lims-seal", parent=st.small, alignment=TA_CENTER))]],
        colWidths=[38 * mm],
        rowHeights=[30 * mm],
    )
    seal.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), font),
            ]
        )
    )
    outer = Table([[signatures, seal]], colWidths=[CONTENT_WIDTH - 42 * mm, 42 * mm])
    outer.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return outer


def _story(report: TestReport, font: str, digest: str, payload: str) -> list[Flowable]:
    lang = report.language
    st = _styles(font)
    story: list[Flowable] = [_title_block(report, st, font, payload), Spacer(1, 4 * mm)]

    story.append(_p(_label("section_info", lang), st.heading))
    story.append(_kv_table(_info_rows(report), st, font))

    story.append(_p(_label("section_results", lang), st.heading))
    story.append(_results_table(report, st, font))
    for provider, mark in _external_marks(report).items():
        story.append(_p(f"*{mark} {_label('external', lang)}: {provider}", st.small))

    story.append(
        KeepTogether(
            [
                _p(_label("section_conclusion", lang), st.heading),
                _p(report.conformity.statement, st.body),
                _p(f"{_label('decision_rule', lang)}: {report.conformity.decision_rule_text}", st.body),
            ]
        )
    )

    story.append(_p(_label("section_deviations", lang), st.heading))
    if report.deviations:
        for d in report.deviations:
            story.append(_p(f"[{_label(d.kind.value, lang)}] {d.description}", st.body))
    else:
        story.append(_p(_label("none", lang), st.body))

    if report.amendment is not None:
        a = report.amendment
        story.append(_p(_label("section_amendment", lang), st.heading))
        text = _bi(
            (
                f"本报告（第 {report.version} 版）替代报告 {a.supersedes_report_id}，原报告作废。",
                f"This report (version {report.version}) supersedes report {a.supersedes_report_id}, "
                "which is withdrawn.",
            ),
            lang,
            "\n",
        )
        story.append(_p(text, st.body))
        story.append(_p(f"{_label('amendment_reason', lang)}: {a.reason}", st.body))

    story.append(_p(_label("section_statements", lang), st.heading))
    story.append(_p(_bi((ITEMS_TESTED_STATEMENT_ZH, ITEMS_TESTED_STATEMENT_EN), lang, " "), st.body))
    for note in report.notes:
        story.append(_p(note, st.body))

    verification: list[Flowable] = [
        _p(_label("section_verification", lang), st.heading),
        _p(f"{_label('hash', lang)}: {digest}", st.small),
    ]
    if report.verify_base_url:
        verification.append(_p(f"{_label('verify_url', lang)}: {payload}", st.small))
    verification.append(_p(_bi(_LABELS["verify_hint"], lang, " "), st.small))
    story.append(KeepTogether(verification))

    story.append(
        KeepTogether(
            [
                _p(_label("section_signatures", lang), st.heading),
                _signature_block(report, st, font),
                Spacer(1, 6 * mm),
                _p(end_of_report_mark(lang), st.center),
            ]
        )
    )
    return story


def render_report_pdf(report: TestReport, path: Path) -> RenderedReport:
    """Write ``report`` as a PDF to ``path`` (atomically) and return its hash and page count.

    Raises :class:`~lims.reports.fonts.FontNotFoundError` when no embeddable CJK font exists and
    :class:`UnprintableTextError` when a field holds a character the font cannot print.
    """
    registered = register_cjk_font()
    check_printable(report, registered)
    font = registered.name
    digest = content_hash(report)
    payload = qr_payload(report, digest)
    page_count: list[int] = []
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        invariant=1,
        initialFontName=font,
        initialFontSize=9,
        lang=report.language,
        title=f"{report.title or _label('title', report.language)} {report.report_id}",
        author=report.laboratory.name,
        subject=report.report_id,
        creator="county-lims",
        keywords=[report.report_id, f"sha256:{digest}"],
    )
    doc.build(
        _story(report, font, digest, payload),
        canvasmaker=numbered_canvas(_page_furniture(report, font), page_count),
    )
    data = buffer.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return RenderedReport(path=path, sha256=hashlib.sha256(data).hexdigest(), page_count=page_count[-1])
