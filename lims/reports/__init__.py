"""Test reports: plain report data (:mod:`.model`), the CJK font (:mod:`.fonts`), the PDF (:mod:`.pdf`)."""

from typing import TYPE_CHECKING, Any

from lims.reports.model import (
    Amendment,
    Conformity,
    Customer,
    Deviation,
    DeviationKind,
    Laboratory,
    MethodRef,
    MonitoringTask,
    Producer,
    ReportDataError,
    ResultLine,
    SampleItem,
    SamplingRecord,
    SignatureManifestation,
    SignatureRole,
    TestReport,
    Verdict,
    canonical_json,
    content_hash,
    iter_text_fields,
)

if TYPE_CHECKING:
    from lims.reports.fonts import FontNotFoundError, register_cjk_font
    from lims.reports.pdf import RenderedReport, UnprintableTextError, qr_payload, render_report_pdf

#: Names whose modules load reportlab (about 7 MB): imported on first use, so the web app and the report
#: numbers (:mod:`.numbers`) start without it.
_LAZY = {"FontNotFoundError": "fonts", "register_cjk_font": "fonts", "RenderedReport": "pdf",
         "UnprintableTextError": "pdf", "qr_payload": "pdf", "render_report_pdf": "pdf"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value

__all__ = [
    "Amendment",
    "Conformity",
    "Customer",
    "Deviation",
    "DeviationKind",
    "FontNotFoundError",
    "Laboratory",
    "MethodRef",
    "MonitoringTask",
    "Producer",
    "RenderedReport",
    "ReportDataError",
    "ResultLine",
    "SampleItem",
    "SamplingRecord",
    "SignatureManifestation",
    "SignatureRole",
    "TestReport",
    "UnprintableTextError",
    "Verdict",
    "canonical_json",
    "content_hash",
    "iter_text_fields",
    "qr_payload",
    "register_cjk_font",
    "render_report_pdf",
]
