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

import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reportlab.graphics.barcode.qr import QrCode
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from lims.reports.fonts import RegisteredFont, missing_glyphs, register_cjk_font
from lims.reports.layout import (  # printable, numbered_canvas, QR_*: re-exported (they lived here)
    CONTENT_WIDTH,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    PAGE_SIZE,
    QR_BORDER,
    QR_LEVEL,
    QR_SIZE,
    Styles,
    grid_style,
    numbered_canvas,
    para,
    printable,
    styles,
)
from lims.reports.model import (
    ReportDataError,
    SignatureRole,
    TestReport,
    Verdict,
    content_hash,
    iter_text_fields,
)
from lims.reports.page import PageFurniture
from lims.reports.statements import VALIDITY_STATEMENTS
from lims.reports.wording import (  # page_label, end_of_report_mark: re-exported (they lived here)
    LABELS,
    ROLES,
    VERDICTS,
    bi,
    end_of_report_mark,
    format_datetime,
    info_rows,
    label,
    page_label,
)


class UnprintableTextError(ReportDataError):
    """A report field holds a character the embedded CJK font has no glyph for."""


@dataclass(frozen=True)
class RenderedReport:
    """The PDF written: where, the SHA-256 of its bytes, and how many pages it has."""

    path: Path
    sha256: str
    page_count: int


def qr_payload(report: TestReport, digest: str | None = None) -> str:
    """Text carried by the QR code: the report ID and its verification hash.

    With ``verify_base_url`` it is ``{base}/{report_id}?sha256={hash}`` (the ``GET /verify``
    endpoint); otherwise ``LIMS-REPORT;id={report_id};sha256={hash}``.
    """
    digest = digest or content_hash(report)
    if report.verify_base_url:
        return f"{report.verify_base_url.rstrip('/')}/{quote(report.report_id, safe='')}?sha256={digest}"
    return f"LIMS-REPORT;id={report.report_id};sha256={digest}"


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


# --- page furniture -----------------------------------------------------------------------


def _page_furniture(report: TestReport, font: str) -> PageFurniture:
    lang = report.language
    id_text = f"{label('report_no', lang)}: {report.report_id}"
    if report.version > 1:
        id_text += f"  ({label('version', lang)} {report.version})"
    return PageFurniture(
        font=font, font_size=8.5, margin_x=MARGIN_X, header_drop=14 * mm, header_rule_gap=2.5 * mm, line_width=0.6,
        header_left=printable(report.laboratory.name), header_right=id_text, footer_left=report.report_id,
        page_text=lambda number, total: page_label(number, total, lang), page_size=PAGE_SIZE)


# --- body ---------------------------------------------------------------------------------


def _qr_code(payload: str) -> QrCode:
    """The QR flowable; drawn straight on the canvas (a graphics Drawing would select Helvetica)."""
    return QrCode(payload, width=QR_SIZE, height=QR_SIZE, qrBorder=QR_BORDER, qrLevel=QR_LEVEL)


def _title_block(report: TestReport, st: Styles, font: str, payload: str) -> Flowable:
    lang = report.language
    cma_rows = [
        [para("CMA", ParagraphStyle("lims-cma", parent=st.center, fontSize=16, leading=20))],
        [
            para(
                label("cma", lang, "\n"),
                ParagraphStyle("lims-cma-note", parent=st.small, alignment=TA_CENTER),
            )
        ],
    ]
    if report.laboratory.cma_certificate_number:
        cma_rows.append(
            [
                para(
                    f"{label('cma_no', lang, chr(10))}\n{report.laboratory.cma_certificate_number}",
                    ParagraphStyle("lims-cma-no", parent=st.small, alignment=TA_CENTER),
                )
            ]
        )
    cma_box = Table(cma_rows, colWidths=[38 * mm])
    cma_box.setStyle(
        TableStyle([("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("FONTNAME", (0, 0), (-1, -1), font)])
    )

    title = report.title or label("title", lang, "\n")
    middle: list[Flowable] = [para(title, st.title), Spacer(1, 3 * mm)]
    middle.append(para(f"{label('report_no', lang)}: {report.report_id}", st.subtitle))
    middle.append(para(f"{label('version', lang)}: {report.version}", st.subtitle))
    if report.amendment is not None:
        middle.append(
            para(f"{label('supersedes', lang)}: {report.amendment.supersedes_report_id}", st.subtitle)
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


def _kv_table(rows: Sequence[tuple[str, str]], st: Styles, font: str) -> Table:
    data = [[para(k, st.cell), para(v, st.cell)] for k, v in rows]
    table = Table(data, colWidths=[46 * mm, CONTENT_WIDTH - 46 * mm], repeatRows=0)
    style = grid_style(font)
    style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")))
    table.setStyle(TableStyle(style))
    return table


def _external_marks(report: TestReport) -> dict[str, str]:
    """Provider → mark (E1, E2, …) in first-seen order (7.8.2.1 p)."""
    marks: dict[str, str] = {}
    for line in report.results:
        if line.external_provider and line.external_provider not in marks:
            marks[line.external_provider] = f"E{len(marks) + 1}"
    return marks


def _results_table(report: TestReport, st: Styles, font: str) -> Table:
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
    header = [para(label(k, lang, "\n"), st.cell_head) for k in keys]
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
                para(str(i), st.cell_head),
                para(analyte, st.cell),
                para(r.result_text, st.cell),
                para(r.unit, st.cell),
                para(lod_loq, st.cell),
                para(mrl, st.cell),
                para(u, st.cell),
                para(label("screening_only", lang, "\n") if r.screening else bi(VERDICTS[r.verdict], lang, "\n"),
                     st.cell),
                para(r.method_code, st.cell),
            ]
        )
        if r.verdict in (Verdict.NON_COMPLIANT, Verdict.BANNED_SUBSTANCE_DETECTED):
            flagged.append(i)
    widths_mm = [8, 30, 22, 12, 18, 22, 18, 22]
    widths = [w * mm for w in widths_mm]
    widths.append(CONTENT_WIDTH - sum(widths))
    table = Table(data, colWidths=widths, repeatRows=1, splitByRow=1)
    style = grid_style(font, header_rows=1)
    for row in flagged:
        style.append(("BACKGROUND", (0, row), (-1, row), colors.HexColor("#FBE3E3")))
    table.setStyle(TableStyle(style))
    return table


def _line_notes(report: TestReport, st: Styles) -> list[Flowable]:
    """Warnings on result lines (e.g. a limit not yet verified against its standard), by line number."""
    notes = [f"{i}. {r.analyte}: {r.warning}" for i, r in enumerate(report.results, start=1) if r.warning]
    if not notes:
        return []
    return [para(f"{label('line_notes', report.language)}: " + "\n".join(notes), st.small)]


def _result_signatures(report: TestReport, st: Styles, font: str) -> list[Flowable]:
    """Who tested, checked and approved each reported result version (an amended report shows the
    signatures of the corrected values)."""
    if not any(r.signatures for r in report.results):
        return []
    lang = report.language
    roles = (SignatureRole.TESTER, SignatureRole.CHECKER, SignatureRole.APPROVER)
    head = [para(label("col_no", lang, "\n"), st.cell_head), para(label("col_result_version", lang, "\n"), st.cell_head),
            *(para(bi(ROLES[role], lang, "\n"), st.cell_head) for role in roles)]
    rows: list[list[Any]] = [head]
    for i, r in enumerate(report.results, start=1):
        by_role = {sig.role: sig for sig in r.signatures}
        cells = [para(f"{by_role[role].printed_name}\n{format_datetime(by_role[role].signed_at)}"
                      if role in by_role else "—", st.cell) for role in roles]
        rows.append([para(str(i), st.cell_head), para(f"{r.analyte} (v{r.result_version})", st.cell), *cells])
    widths = [8 * mm, 52 * mm]
    rest = (CONTENT_WIDTH - sum(widths)) / 3
    table = Table(rows, colWidths=[*widths, rest, rest, rest], repeatRows=1)
    table.setStyle(TableStyle(grid_style(font, header_rows=1)))
    return [para(label("section_result_signatures", lang), st.heading), table]


def _signature_block(report: TestReport, st: Styles, font: str) -> Table:
    lang = report.language
    head = [
        para(label(k, lang, "\n"), st.cell_head)
        for k in ("col_role", "col_name", "col_signed_at", "col_meaning")
    ]
    rows: list[list[Any]] = [head]
    for role in (SignatureRole.TESTER, SignatureRole.CHECKER, SignatureRole.APPROVER):
        sig = report.signature(role)
        rows.append(
            [
                para(bi(ROLES[role], lang, "\n"), st.cell),
                para(sig.printed_name, st.cell),
                para(format_datetime(sig.signed_at), st.cell),
                para(sig.meaning, st.cell),
            ]
        )
    signatures = Table(rows, colWidths=[36 * mm, 22 * mm, 34 * mm, 44 * mm], repeatRows=1)
    signatures.setStyle(TableStyle(grid_style(font, header_rows=1)))
    seal = Table(
        [[para(label("seal", lang, "\n"), ParagraphStyle("lims-seal", parent=st.small, alignment=TA_CENTER))]],
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


def _conclusion(report: TestReport, st: Styles) -> Flowable:
    lang = report.language
    return KeepTogether(
        [
            para(label("section_conclusion", lang), st.heading),
            para(report.conformity.statement, st.body),
            para(f"{label('decision_rule', lang)}: {report.conformity.decision_rule_text}", st.body),
        ]
    )


def _deviations(report: TestReport, st: Styles) -> list[Flowable]:
    """Deviations from, additions to or exclusions from the method (7.8.2.1 n), or "none"."""
    lang = report.language
    out: list[Flowable] = [para(label("section_deviations", lang), st.heading)]
    if not report.deviations:
        return [*out, para(label("none", lang), st.body)]
    return [*out, *(para(f"[{label(d.kind.value, lang)}] {d.description}", st.body) for d in report.deviations)]


def _amendment(report: TestReport, st: Styles) -> list[Flowable]:
    """Which report this version replaces and why (7.8.8.2); nothing for a first issue."""
    a = report.amendment
    if a is None:
        return []
    lang = report.language
    text = bi(
        (
            f"本报告（第 {report.version} 版）替代报告 {a.supersedes_report_id}，原报告作废。",
            f"This report (version {report.version}) supersedes report {a.supersedes_report_id}, "
            "which is withdrawn.",
        ),
        lang,
        "\n",
    )
    return [
        para(label("section_amendment", lang), st.heading),
        para(text, st.body),
        para(f"{label('amendment_reason', lang)}: {a.reason}", st.body),
    ]


def _statements(report: TestReport, st: Styles) -> list[Flowable]:
    """The statements block: the report's own statements, or the validity statements (numbered)."""
    lang = report.language
    lines = report.statements or tuple(bi(pair, lang, " ") for pair in VALIDITY_STATEMENTS)
    return [
        para(label("section_statements", lang), st.heading),
        *(para(f"{i}. {text}", st.body) for i, text in enumerate(lines, start=1)),
        *(para(note, st.body) for note in report.notes),
    ]


def _verification(report: TestReport, st: Styles, digest: str, payload: str) -> Flowable:
    lang = report.language
    verification: list[Flowable] = [
        para(label("section_verification", lang), st.heading),
        para(f"{label('hash', lang)}: {digest}", st.small),
    ]
    if report.verify_base_url:
        verification.append(para(f"{label('verify_url', lang)}: {payload}", st.small))
    verification.append(para(bi(LABELS["verify_hint"], lang, " "), st.small))
    return KeepTogether(verification)


def _closing(report: TestReport, st: Styles, font: str) -> Flowable:
    """The signatures, the seal and the end-of-report mark, kept on one page."""
    lang = report.language
    return KeepTogether(
        [
            para(label("section_signatures", lang), st.heading),
            _signature_block(report, st, font),
            Spacer(1, 6 * mm),
            para(end_of_report_mark(lang), st.center),
        ]
    )


def _story(report: TestReport, font: str, digest: str, payload: str) -> list[Flowable]:
    """The report's flowables in the order of ISO/IEC 17025:2017 7.8.2.1."""
    lang = report.language
    st = styles(font)
    externals = [para(f"*{mark} {label('external', lang)}: {provider}", st.small)
                 for provider, mark in _external_marks(report).items()]
    return [
        _title_block(report, st, font, payload),
        Spacer(1, 4 * mm),
        para(label("section_info", lang), st.heading),
        _kv_table(info_rows(report), st, font),
        para(label("section_results", lang), st.heading),
        _results_table(report, st, font),
        *externals,
        *_line_notes(report, st),
        _conclusion(report, st),
        *_deviations(report, st),
        *_amendment(report, st),
        *_result_signatures(report, st, font),
        *_statements(report, st),
        _verification(report, st, digest, payload),
        _closing(report, st, font),
    ]


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
        title=f"{report.title or label('title', report.language)} {report.report_id}",
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
