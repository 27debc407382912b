"""A realistic county-lab report: leek (韭菜) sampled before harvest, GC-MS/MS multi-residue.

Sources of the data written into the report:
- MRLs: GB 2763-2021 食品安全国家标准 食品中农药最大残留限量 — procymidone (腐霉利) in leek
  (韭菜) 0.2 mg/kg; omethoate (氧乐果) and carbofuran (克百威) in vegetables 0.02 mg/kg;
  phorate (甲拌磷) in vegetables 0.01 mg/kg.
- Method: GB 23200.113-2018 (GC-MS/MS, 208 pesticides in foods of plant origin);
  sampling method NY/T 789-2004 (农药残留分析样本的采样方法).
- Region code 410102 is 郑州市中原区 in GB/T 2260.
- Decision rule wording after ILAC-G8:09/2019 (simple acceptance, w = 0).
Names, IDs, dates and measured values are fictitious.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

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
    ResultLine,
    SampleItem,
    SamplingRecord,
    SignatureManifestation,
    SignatureRole,
    TestReport,
    Verdict,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
METHOD = "GB 23200.113-2018"


def base_results() -> tuple[ResultLine, ...]:
    return (
        ResultLine(
            analyte="腐霉利 (procymidone)",
            result_text="0.56",
            unit="mg/kg",
            method_code=METHOD,
            verdict=Verdict.NON_COMPLIANT,
            lod_text="0.003",
            loq_text="0.01",
            mrl_text="0.2",
            mrl_source="GB 2763-2021",
            expanded_uncertainty_text="0.11",
            coverage_factor=2.0,
        ),
        ResultLine(
            analyte="氧乐果 (omethoate)",
            result_text="未检出(<LOD)",
            unit="mg/kg",
            method_code=METHOD,
            verdict=Verdict.COMPLIANT,
            lod_text="0.003",
            loq_text="0.01",
            mrl_text="0.02",
            mrl_source="GB 2763-2021",
        ),
        ResultLine(
            analyte="克百威 (carbofuran)",
            result_text="< LOQ",
            unit="mg/kg",
            method_code=METHOD,
            verdict=Verdict.COMPLIANT,
            lod_text="0.003",
            loq_text="0.01",
            mrl_text="0.02",
            mrl_source="GB 2763-2021",
        ),
        ResultLine(
            analyte="甲拌磷 (phorate)",
            result_text="未检出(<LOD)",
            unit="mg/kg",
            method_code=METHOD,
            verdict=Verdict.COMPLIANT,
            lod_text="0.003",
            loq_text="0.01",
            mrl_text="0.01",
            mrl_source="GB 2763-2021",
            external_provider="省农产品质量安全检测中心 (分包)",
        ),
    )


def build_report(**overrides: object) -> TestReport:
    sampling = SamplingRecord(
        sampled_at=dt.datetime(2024, 5, 20, 9, 30, tzinfo=SHANGHAI),
        place="中原区须水镇某蔬菜种植基地 3 号棚",
        region_code="410102",
        sampling_link="采收前",
        producer=Producer(
            name="郑州市中原区绿源蔬菜种植专业合作社",
            unified_social_credit_code="93410102MA44XXXX1K",
            address="郑州市中原区须水镇",
        ),
        samplers=("李明", "王芳"),
        sampling_plan="2024年中原区农产品质量安全例行监测抽样方案（ZY-2024-LX-02）",
        sampling_method="NY/T 789-2004 农药残留分析样本的采样方法",
        certificate_code="HGZ-410102-2024-000317",
        traceability_code="41010220240520000317",
    )
    sample = SampleItem(
        sample_id="S2024-05-0317",
        commodity="韭菜",
        description="鲜韭菜，整株，聚乙烯袋密封",
        condition_on_receipt="新鲜，无腐烂，包装完好，冷藏（4 ℃）",
        quantity="1.2 kg",
        received_on=dt.date(2024, 5, 20),
        sampling=sampling,
    )
    fields: dict[str, object] = dict(
        report_id="ZYJC-2024-0317",
        laboratory=Laboratory(
            name="郑州市中原区农产品质量安全检测站",
            address="河南省郑州市中原区建设西路 100 号",
            cma_certificate_number="241612340001",
            phone="0371-00000000",
        ),
        testing_location="本站实验室（固定场所）",
        customer=Customer(name="郑州市中原区农业农村局", address="郑州市中原区"),
        sample=sample,
        methods=(
            MethodRef(
                METHOD, "食品安全国家标准 植物源性食品中208种农药及其代谢物残留量的测定 气相色谱-质谱联用法"
            ),
        ),
        testing_started_on=dt.date(2024, 5, 21),
        testing_completed_on=dt.date(2024, 5, 23),
        issued_on=dt.date(2024, 5, 27),
        results=base_results(),
        conformity=Conformity(
            statement="所检项目中腐霉利不符合 GB 2763-2021 的要求，该样品判定为不合格。",
            decision_rule="simple_acceptance",
            decision_rule_text="简单接受规则（ILAC-G8:09/2019，保护带 w = 0）：测得值大于限量值判为不合格。",
        ),
        signatures=(
            SignatureManifestation(
                SignatureRole.TESTER,
                "赵强",
                dt.datetime(2024, 5, 23, 16, 5, tzinfo=SHANGHAI),
                "检验（编制）/ authorship",
            ),
            SignatureManifestation(
                SignatureRole.CHECKER,
                "孙丽",
                dt.datetime(2024, 5, 24, 10, 12, tzinfo=SHANGHAI),
                "审核 / review",
            ),
            SignatureManifestation(
                SignatureRole.APPROVER,
                "周建国",
                dt.datetime(2024, 5, 27, 9, 0, tzinfo=SHANGHAI),
                "批准 / approval",
            ),
        ),
        monitoring_task=MonitoringTask(
            code="ZY-2024-LX-02",
            name="2024年第二季度蔬菜农药残留例行监测",
            programme_type="例行监测",
            issuing_authority="郑州市中原区农业农村局",
        ),
        deviations=(Deviation(DeviationKind.EXCLUSION, "甲拌磷亚砜未检测（委托方未要求）"),),
    )
    fields.update(overrides)
    return TestReport(**fields)  # type: ignore[arg-type]


def build_amendment(**overrides: object) -> TestReport:
    """Version 2 superseding ZYJC-2024-0317 (a corrected producer address)."""
    original = build_report()
    fields: dict[str, object] = dict(
        report_id="ZYJC-2024-0317-A1",
        version=2,
        amendment=Amendment(supersedes_report_id=original.report_id, reason="受检单位地址录入错误，予以更正"),
        issued_on=dt.date(2024, 6, 3),
    )
    fields.update(overrides)
    return dataclasses.replace(original, **fields)


@pytest.fixture(scope="session")
def make_report() -> Callable[..., TestReport]:
    """Builder of the realistic report; keyword arguments replace fields."""
    return build_report


@pytest.fixture(scope="session")
def make_amendment() -> Callable[..., TestReport]:
    """Builder of version 2 superseding the realistic report; keyword arguments replace fields."""
    return build_amendment
