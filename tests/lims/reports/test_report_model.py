"""Report data rules (ISO/IEC 17025:2017 7.8, 21 CFR 11.50) and the canonical content hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable

import pytest

from lims.reports.model import (
    Amendment,
    ReportDataError,
    SignatureManifestation,
    SignatureRole,
    TestReport,
    canonical_json,
    content_hash,
)


def test_content_hash_is_sha256_of_canonical_json(make_report: Callable[..., TestReport]) -> None:
    report = make_report()
    assert content_hash(report) == hashlib.sha256(canonical_json(report)).hexdigest()
    assert len(content_hash(report)) == 64


def test_canonical_json_is_sorted_compact_utf8_and_keeps_timezones(
    make_report: Callable[..., TestReport],
) -> None:
    raw = canonical_json(make_report())
    doc = json.loads(raw.decode("utf-8"))
    assert raw == json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    assert "韭菜".encode() in raw  # not \\u-escaped
    assert doc["report"]["sample"]["sampling"]["sampled_at"] == "2024-05-20T09:30:00+08:00"
    assert doc["report"]["results"][0]["verdict"] == "non_compliant"
    assert doc["report"]["issued_on"] == "2024-05-27"
    assert doc["schema"].startswith("lims.reports.TestReport/")


def test_equal_data_equal_hash_and_any_change_changes_it(
    make_report: Callable[..., TestReport], make_amendment: Callable[..., TestReport]
) -> None:
    assert content_hash(make_report()) == content_hash(make_report())
    base = content_hash(make_report())
    results = make_report().results
    edited = (dataclasses.replace(results[0], result_text="0.57"), *results[1:])
    assert content_hash(make_report(results=edited)) != base
    assert content_hash(make_report(language="en")) != base
    assert content_hash(make_amendment()) != base


def _sig(role: SignatureRole, when: dt.datetime) -> SignatureManifestation:
    return SignatureManifestation(role, "张三", when, "审核 / review")


def test_signature_needs_a_timezone() -> None:
    with pytest.raises(ReportDataError, match=r"signatures\[checker\]\.signed_at.*timezone"):
        _sig(SignatureRole.CHECKER, dt.datetime(2024, 5, 24, 10, 12))


def test_three_signatures_exactly_one_each(make_report: Callable[..., TestReport]) -> None:
    report = make_report()
    without_approver = tuple(s for s in report.signatures if s.role != SignatureRole.APPROVER)
    with pytest.raises(ReportDataError, match="exactly one approver"):
        make_report(signatures=without_approver)
    with pytest.raises(ReportDataError, match="exactly one tester"):
        make_report(signatures=(*report.signatures, report.signature(SignatureRole.TESTER)))


def test_amendment_and_version_go_together(
    make_report: Callable[..., TestReport], make_amendment: Callable[..., TestReport]
) -> None:
    with pytest.raises(ReportDataError, match="amendment"):
        make_report(version=2)
    with pytest.raises(ReportDataError, match="amendment"):
        make_report(amendment=Amendment("ZYJC-2024-0001", "typo"))
    with pytest.raises(ReportDataError, match="new report_id"):
        make_amendment(report_id="ZYJC-2024-0317", amendment=Amendment("ZYJC-2024-0317", "typo"))


def test_dates_in_order(make_report: Callable[..., TestReport]) -> None:
    with pytest.raises(ReportDataError, match="issued_on"):
        make_report(issued_on=dt.date(2024, 5, 22))


def test_region_code_is_gbt2260_six_digits(make_report: Callable[..., TestReport]) -> None:
    sampling = make_report().sample.sampling
    with pytest.raises(ReportDataError, match="region_code"):
        dataclasses.replace(sampling, region_code="4101")


def test_language_is_checked(make_report: Callable[..., TestReport]) -> None:
    with pytest.raises(ReportDataError, match="language"):
        make_report(language="fr")
