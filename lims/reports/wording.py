"""The printed words of a test report, zh-CN and English side by side: headings, field and column names,
verdicts as printed in the results table, the signature roles, page and end-of-report marks.

A report prints "中文 / English" (``language="zh-CN"``) or "English / 中文" (``language="en"``). The
verdict words here are the report's (short, for a table cell); the web UI's labels of the same verdicts
are on :class:`lims.vocabulary.Verdict`.
"""

from __future__ import annotations

import datetime as dt

from lims.reports.model import SignatureRole, TestReport, Verdict

END_OF_REPORT_ZH = "（以下空白）"
END_OF_REPORT_EN = "End of report"

LABELS: dict[str, tuple[str, str]] = {
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
    "screening_only": ("快速筛查\n不作判定", "Screening only\nno verdict"),
    "section_result_signatures": ("结果签名（按结果版本）", "Signatures per result version"),
    "col_result_version": ("检测项目（结果版本）", "Analyte (result version)"),
    "line_notes": ("结果说明", "Notes on results"),
}

VERDICTS: dict[Verdict, tuple[str, str]] = {
    Verdict.COMPLIANT: ("合格", "Compliant"),
    Verdict.NON_COMPLIANT: ("不合格", "Non-compliant"),
    Verdict.COMPLIANT_WITHIN_UNCERTAINTY: ("合格（不确定度范围内）", "Compliant within uncertainty"),
    Verdict.NOT_EVALUATED: ("未判定", "Not evaluated"),
    Verdict.BANNED_SUBSTANCE_DETECTED: ("检出禁用物质", "Banned substance detected"),
}

ROLES: dict[SignatureRole, tuple[str, str]] = {
    SignatureRole.TESTER: ("检验", "Tested by"),
    SignatureRole.CHECKER: ("审核", "Checked by"),
    SignatureRole.APPROVER: ("批准（授权签字人）", "Approved by (authorized signatory)"),
}


def bi(pair: tuple[str, str], language: str, sep: str = " / ") -> str:
    """A (Chinese, English) pair in the report's order: the report's language first."""
    zh, en = pair
    return f"{en}{sep}{zh}" if language == "en" else f"{zh}{sep}{en}"


def label(key: str, language: str, sep: str = " / ") -> str:
    """The :data:`LABELS` entry ``key`` in both languages, the report's first."""
    return bi(LABELS[key], language, sep)


def page_label(page: int, total: int, language: str) -> str:
    """The page mark printed on every page: "第 n 页 共 N 页 / Page n of N"."""
    return bi((f"第 {page} 页 共 {total} 页", f"Page {page} of {total}"), language)


def end_of_report_mark(language: str) -> str:
    """The end-of-report mark (ISO/IEC 17025:2017 7.8.2.1 d)."""
    return bi((END_OF_REPORT_ZH, END_OF_REPORT_EN), language)


def format_datetime(value: dt.datetime) -> str:
    """Date-time as printed on a signature: local time and its UTC offset (21 CFR 11.50)."""
    offset = value.strftime("%z")
    return f"{value:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}"


def info_rows(report: TestReport) -> list[tuple[str, str]]:
    """The sample and test information table (7.8.2.1 b, c, e, g, h, i, j, k), as (label, value) rows."""
    lang = report.language
    s = report.sample
    smp = s.sampling
    lab = report.laboratory

    def L(key: str) -> str:  # noqa: N802 (short local alias)
        return label(key, lang)

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
            f"{report.testing_started_on.isoformat()} {LABELS['to'][1 if lang == 'en' else 0]} "
            f"{report.testing_completed_on.isoformat()}",
        ),
        (L("issued_on"), report.issued_on.isoformat()),
        (L("methods"), "\n".join(f"{m.code}  {m.title}" for m in report.methods)),
    ]
    return rows
