"""The rendered PDF read back: ISO/IEC 17025:2017 7.8.2.1 a-p, page marks, embedded fonts, QR payload."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.graphics.barcode import qrencoder

from lims.reports.model import ResultLine, TestReport, Verdict, content_hash
from lims.reports.pdf import (
    QR_BORDER,
    QR_LEVEL,
    QR_SIZE,
    UnprintableTextError,
    printable,
    qr_payload,
    render_report_pdf,
)

HAVE_PDFTOTEXT = shutil.which("pdftotext") is not None
HAVE_PDFFONTS = shutil.which("pdffonts") is not None


def _squash(text: str) -> str:
    """Text without whitespace: extraction inserts line breaks and spaces where the layout wraps."""
    return re.sub(r"\s+", "", text)


def _page_texts(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def _pdftotext_pages(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8").split("\f")[:-1]


@pytest.fixture(scope="module")
def amended_pdf(
    tmp_path_factory: pytest.TempPathFactory, make_amendment: Callable[..., TestReport]
) -> tuple[TestReport, Path, object]:
    report = make_amendment()
    path = tmp_path_factory.mktemp("report") / "amended.pdf"
    rendered = render_report_pdf(report, path)
    return report, path, rendered


def _items_7821(report: TestReport) -> dict[str, list[str]]:
    """For each 7.8.2.1 item, the texts that must be printed (labels and the data itself)."""
    s = report.sample
    smp = s.sampling
    assert report.amendment is not None
    return {
        "a title": ["检验检测报告", "TestReport"],
        "b laboratory": [report.laboratory.name, report.laboratory.address],
        "c location": ["检测地点", report.testing_location],
        "d report id and end mark": [report.report_id, "（以下空白）", "Endofreport"],
        "e customer": ["委托单位", report.customer.name, "任务下达单位", "ZY-2024-LX-02"],
        "f method": ["检测依据", "GB23200.113-2018"],
        "g item": [
            s.sample_id,
            s.commodity,
            printable(s.condition_on_receipt),  # ℃ printed as °C
            smp.producer.name,
            str(smp.producer.unified_social_credit_code),
            "采收前",
            "410102",
            str(smp.certificate_code),
            str(smp.traceability_code),
        ],
        "h receipt and sampling dates": [
            "收样日期/Dateofreceipt2024-05-20",
            "抽样时间/Samplingdate-time2024-05-2009:30:00UTC+08:00",
        ],
        "i dates of testing": ["2024-05-21至2024-05-23"],
        "j date of issue": ["签发日期/Dateofissue2024-06-03"],
        "k sampling plan": ["抽样方案", "ZY-2024-LX-02", "NY/T789-2004"],
        "l items tested": ["本报告结果仅对所检样品负责", "Theresultsrelateonlytotheitemstested"],
        "m results with units": [
            "腐霉利(procymidone)",
            "0.56",
            "mg/kg",
            "未检出(<LOD)",
            "<LOQ",
            "0.11(k=2)",
            "GB2763-2021",
            "不合格",
            "Non-compliant",
        ],
        "n deviations": ["偏离、增加或删减", "甲拌磷亚砜未检测"],
        "o authorised by": ["批准（授权签字人）", "周建国", "2024-05-2709:00:00UTC+08:00", "批准/approval"],
        "p external provider": ["*E1", "外部提供者结果", "省农产品质量安全检测中心"],
        "conformity and decision rule": ["检测结论", "判定规则", "ILAC-G8:09/2019"],
        "tester and checker": ["赵强", "孙丽", "审核/review", "检验（编制）/authorship"],
        "cma mark": ["CMA", "241612340001"],
        "amendment": ["替代报告", "ZYJC-2024-0317", "受检单位地址录入错误"],
        "verification hash": [content_hash(report)],
    }


def test_rendered_report_describes_the_file(amended_pdf) -> None:
    _, path, rendered = amended_pdf
    assert rendered.path == path
    assert rendered.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rendered.page_count == len(PdfReader(path).pages) >= 1


def test_chinese_text_extracts_with_pypdf(amended_pdf) -> None:
    _, path, _ = amended_pdf
    text = _squash("".join(_page_texts(path)))
    for phrase in (
        "检验检测报告",
        "郑州市中原区农产品质量安全检测站",
        "韭菜",
        "采收前",
        "受检单位地址录入错误，予以更正",
    ):
        assert phrase in text


def test_every_7821_item_appears(amended_pdf) -> None:
    report, path, _ = amended_pdf
    text = _squash("".join(_page_texts(path)))
    missing = {
        item: [t for t in texts if _squash(t) not in text] for item, texts in _items_7821(report).items()
    }
    assert {k: v for k, v in missing.items() if v} == {}


@pytest.mark.skipif(not HAVE_PDFTOTEXT, reason="pdftotext (poppler-utils) not installed")
def test_every_7821_item_appears_in_pdftotext(amended_pdf) -> None:
    report, path, _ = amended_pdf
    text = _squash("".join(_pdftotext_pages(path)))
    missing = {
        item: [t for t in texts if _squash(t) not in text] for item, texts in _items_7821(report).items()
    }
    assert {k: v for k, v in missing.items() if v} == {}


def _assert_page_marks(pages: list[str], report_id: str) -> None:
    total = len(pages)
    for number, page in enumerate(pages, start=1):
        squashed = _squash(page)
        assert report_id in squashed, f"page {number}"
        assert f"第{number}页共{total}页" in squashed, f"page {number}"
        assert f"Page{number}of{total}" in squashed, f"page {number}"


def test_report_id_and_page_n_of_n_on_every_page(amended_pdf) -> None:
    report, path, rendered = amended_pdf
    pages = _page_texts(path)
    assert len(pages) == rendered.page_count
    _assert_page_marks(pages, report.report_id)


def test_end_mark_only_after_the_last_content(amended_pdf) -> None:
    _, path, _ = amended_pdf
    pages = [_squash(p) for p in _page_texts(path)]
    assert "（以下空白）/Endofreport" in pages[-1]
    assert all("以下空白" not in p for p in pages[:-1])
    # nothing but the footer follows the end mark
    tail = pages[-1].split("（以下空白）/Endofreport", 1)[1]
    assert "签名" not in tail and "检测结论" not in tail


def _font_is_embedded(font) -> bool:
    font = font.get_object()
    if font.get("/Subtype") == "/Type0":
        return all(_font_is_embedded(d) for d in font["/DescendantFonts"])
    descriptor = font.get("/FontDescriptor")
    if descriptor is None:
        return False
    descriptor = descriptor.get_object()
    return any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def test_all_fonts_embedded_pypdf(amended_pdf) -> None:
    _, path, _ = amended_pdf
    seen = []
    for page in PdfReader(path).pages:
        fonts = page["/Resources"].get("/Font", {})
        for name, ref in fonts.items():
            font = ref.get_object()
            seen.append(str(font.get("/BaseFont")))
            assert _font_is_embedded(font), f"{name} {font.get('/BaseFont')} is not embedded"
            if font.get("/Subtype") != "/Type0":
                assert "/FontFile2" in font["/FontDescriptor"].get_object()
    assert seen and not any("Helvetica" in f or "Times" in f for f in seen)


@pytest.mark.skipif(not HAVE_PDFFONTS, reason="pdffonts (poppler-utils) not installed")
def test_all_fonts_embedded_pdffonts(amended_pdf) -> None:
    _, path, _ = amended_pdf
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = out.splitlines()[2:]
    assert rows
    for row in rows:
        # columns: name type encoding emb sub uni object ID; the type may contain a space
        flags = row.split()[-5:-2]
        assert flags[0] == "yes", row


@pytest.mark.skipif(not HAVE_PDFTOTEXT, reason="pdftotext (poppler-utils) not installed")
def test_pdftotext_chinese_and_page_marks(amended_pdf) -> None:
    report, path, _ = amended_pdf
    pages = _pdftotext_pages(path)
    assert "本报告结果仅对所检样品负责" in "".join(pages)
    _assert_page_marks(pages, report.report_id)


def _qr_modules_on_page(path: Path) -> list[list[bool]]:
    """Rebuild the QR module grid from the filled rectangles the QR flowable drew on page 1."""
    reader = PdfReader(path)
    page = reader.pages[0]
    ops = ContentStream(page.get_contents(), reader).operations
    rects = [[float(v) for v in operands] for operands, op in ops if op == b"re"]
    dark: set[tuple[int, int]] = set()
    size_guess = None
    for count in range(21, 178, 4):  # QR versions 1..40
        box = QR_SIZE / (count + 2 * QR_BORDER)
        candidates = [r for r in rects if abs(r[3] - 1.05 * box) < 1e-3 and r[2] > 0]
        if len(candidates) > count:
            size_guess = (count, box, candidates)
            break
    assert size_guess is not None, "no QR module rectangles found on page 1"
    count, box, candidates = size_guess
    for x, y, w, _h in candidates:
        col = round(x / box) - QR_BORDER
        row = round((QR_SIZE - y) / box) - QR_BORDER - 1
        for c in range(col, col + round(w / box)):
            dark.add((row, c))
    return [[(r, c) in dark for c in range(count)] for r in range(count)]


def test_qr_code_carries_report_id_and_content_hash(amended_pdf) -> None:
    report, path, _ = amended_pdf
    payload = qr_payload(report)
    assert f"id={report.report_id}" in payload
    match = re.search(r"sha256=([0-9a-f]{64})\b", payload)
    assert match and match.group(1) == content_hash(report)
    expected = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, QR_LEVEL))
    expected.addData(payload)
    expected.make()
    assert _qr_modules_on_page(path) == [[bool(m) for m in row] for row in expected.modules]


def test_qr_payload_uses_verify_url_when_given(make_report: Callable[..., TestReport]) -> None:
    report = make_report(verify_base_url="https://lab.example.cn/verify/")
    assert qr_payload(report) == f"https://lab.example.cn/verify/ZYJC-2024-0317?sha256={content_hash(report)}"


def test_same_data_same_bytes(tmp_path: Path, make_report: Callable[..., TestReport]) -> None:
    report = make_report()
    first = render_report_pdf(report, tmp_path / "a.pdf")
    second = render_report_pdf(make_report(), tmp_path / "b.pdf")
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    changed = render_report_pdf(make_report(report_id="ZYJC-2024-0318"), tmp_path / "c.pdf")
    assert changed.sha256 != first.sha256


def test_english_first(tmp_path: Path, make_report: Callable[..., TestReport]) -> None:
    report = make_report(language="en")
    rendered = render_report_pdf(report, tmp_path / "en.pdf")
    pages = [_squash(p) for p in _page_texts(rendered.path)]
    assert pages[0].find("TestReport") < pages[0].find("检验检测报告")
    assert "ReportNo./报告编号" in pages[0]
    for number, page in enumerate(pages, start=1):
        assert f"Page{number}of{len(pages)}/第{number}页共{len(pages)}页" in page
    assert "Endofreport/（以下空白）" in pages[-1]
    assert "Theresultsrelateonlytotheitemstested.本报告结果仅对所检样品负责" in "".join(pages)


def _many_results(n: int) -> tuple[ResultLine, ...]:
    return tuple(
        ResultLine(
            analyte=f"测试项目-{i:02d}",
            result_text="未检出(<LOD)",
            unit="mg/kg",
            method_code="GB 23200.113-2018",
            verdict=Verdict.NOT_EVALUATED,
            lod_text="0.003",
            loq_text="0.01",
        )
        for i in range(1, n + 1)
    )


def test_sixty_results_span_pages_with_repeated_header(
    tmp_path: Path, make_report: Callable[..., TestReport]
) -> None:
    report = make_report(results=_many_results(60))
    rendered = render_report_pdf(report, tmp_path / "long.pdf")
    assert rendered.page_count >= 3
    pages = [_squash(p) for p in _page_texts(rendered.path)]
    with_rows = [i for i, p in enumerate(pages) if "测试项目-" in p]
    assert len(with_rows) >= 2, "the results table should split across pages"
    for i in with_rows:
        assert "序号No." in pages[i] and "检测项目Analyte" in pages[i], f"header missing on page {i + 1}"
    text = "".join(pages)
    positions = [text.find(f"测试项目-{i:02d}") for i in range(1, 61)]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert all(text.count(f"测试项目-{i:02d}") == 1 for i in range(1, 61))
    _assert_page_marks(_page_texts(rendered.path), report.report_id)


def test_compliant_report_without_amendment_or_deviation(
    tmp_path: Path, make_report: Callable[..., TestReport]
) -> None:
    report = dataclasses.replace(make_report(), deviations=())
    rendered = render_report_pdf(report, tmp_path / "plain.pdf")
    text = _squash("".join(_page_texts(rendered.path)))
    assert "替代报告" not in text
    assert "偏离、增加或删减/Deviations,additions,exclusions无/None" in text


def test_amendment_renders_version(amended_pdf) -> None:
    report, path, _ = amended_pdf
    first = _squash(_page_texts(path)[0])
    assert f"报告编号/ReportNo.:{report.report_id}" in first
    assert "版本/Version:2" in first
    assert "替代报告/Supersedesreport:ZYJC-2024-0317" in first


def test_degree_celsius_is_printed_not_blank(amended_pdf) -> None:
    # WenQuanYi Micro Hei maps U+2103 to an empty glyph; the report prints "°C" instead.
    _, path, _ = amended_pdf
    assert "冷藏（4°C）" in _squash("".join(_page_texts(path)))


def test_character_without_glyph_is_refused_naming_the_field(
    tmp_path: Path, make_report: Callable[..., TestReport]
) -> None:
    sample = dataclasses.replace(make_report().sample, commodity="韭菜\U0001f96c")
    with pytest.raises(UnprintableTextError, match=r"report\.sample\.commodity: U\+1F96C"):
        render_report_pdf(make_report(sample=sample), tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
