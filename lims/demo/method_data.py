"""The demo methods' quantitation data (demo data, not a real laboratory's): calibration strategy, batch-QC
limits and identification rule per method, and the GC method's validation study for chlorpyrifos in
celery — the data the demo result's expanded uncertainty is computed from (lims.services.uncertainty).

Validation study (demo): chlorpyrifos spiked into blank celery at 0.05 mg/kg, six replicates, mean
recovery 94.5 % with SD 5.8 %; intermediate precision from 12 batches over three months, RSD 9.6 %;
u(Cref) of the certified standard solution 1.5 %. Nordtest TR 537 top-down: u(bias) =
√(5.5² + 5.8²/6 + 1.5²) = 6.11 %, u_c = √(9.6² + 6.11²) = 11.4 %, U = 22.8 % (k = 2).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from lims.services.method_data import MethodQcSettings, ValidationData, record_validation, set_method_qc

GC_VALIDATION = ValidationData(
    method_code="GC-OP", analyte_code="CHLORPYRIFOS", commodity_code="QINCAI", level_mg_kg=0.05,
    recovery_mean_percent=94.5, recovery_sd_percent=5.8, recovery_n=6, rsd_rw_percent=9.6, u_cref_percent=1.5,
    validated_on=dt.date(2026, 3, 20),
    reference="方法确认报告 MV-GC-OP-2026-03（演示数据）：芹菜 0.05 mg/kg 加标 6 次；期间精密度 12 批 / 3 个月")


def seed_method_data(s: Session) -> None:
    """Method QC settings for the demo's confirmatory methods and the GC validation study."""
    set_method_qc(s, "GC-OP", MethodQcSettings(
        calibration_strategy="external_standard", identification="none", spike_u_cref_percent=1.5,
        source="SANTE/11312/2021 v2 routine QC (recovery 60–140 %, CCV ±20 %, blank ≤ 30 % RL); FPD: no "
               "identity confirmation, positives are confirmed by GC-MS"))
    set_method_qc(s, "LC-BA", MethodQcSettings(
        calibration_strategy="internal_standard", identification="gb23200",
        source="GB/T 22286-2008 (isotope-labelled internal standards); GB 23200 identification (RT ±2.5 %, "
               "ion-ratio tolerance by relative abundance)"))
    record_validation(s, GC_VALIDATION)
