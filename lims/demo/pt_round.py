"""A simulated provider round for ``lims demo``: a provincial centre runs a multi-residue pesticide
round for county labs, with homogeneity and stability data, one outlying result and one false
negative, closes, scores, publishes and writes every participant's PDF and the summary.

Analytes are real pesticides with spiking levels typical of vegetable PT rounds; the labs' results
are simulated (normal, RSD 10 %, fixed seed), so the numbers are illustrative, not reference data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.pt import provider, reports, scoring
from lims.pt.submissions import SubmissionIn
from lims.services.lookup import code_exists

#: (code, 中文名, spiked level mg/kg) of the simulated test material (a tomato purée).
DEMO_ANALYTES: tuple[tuple[str, str, float], ...] = (
    ("chlorpyrifos", "毒死蜱", 0.152), ("procymidone", "腐霉利", 0.318), ("carbendazim", "多菌灵", 0.086),
    ("imidacloprid", "吡虫啉", 0.214), ("cypermethrin", "氯氰菊酯", 0.447), ("acetamiprid", "啶虫脒", 0.063),
    ("difenoconazole", "苯醚甲环唑", 0.128), ("omethoate", "氧乐果", 0.041),
)
DEMO_MRRL = 0.01
PROVIDER = "某省农产品质量安全检测中心"
ACTOR = "pt-demo"


def run_demo_round(factory: sessionmaker[Session], *, out_dir: Path, participants: int = 12, analytes: int = 5,
                   seed: int = 20240601, now: dt.datetime | None = None) -> dict[str, Any]:
    """Create, run, score and report a simulated round; returns {"participants", "analytes",
    "scores", "pdfs", "unsatisfactory", "false_negatives", "round"}. Takes a few seconds."""
    if not 3 <= participants <= 200:
        raise ValueError("participants must be between 3 and 200")
    if not 1 <= analytes <= len(DEMO_ANALYTES):
        raise ValueError(f"analytes must be between 1 and {len(DEMO_ANALYTES)}")
    rng = np.random.default_rng(seed)
    now = now or utcnow()
    code = f"PT-{now:%Y}-{seed % 10000:04d}"
    chosen = DEMO_ANALYTES[:analytes]
    specs = [provider.AnalyteSpec(code=c, name_zh=zh, mrrl=DEMO_MRRL, unit="mg/kg") for c, zh, _ in chosen]
    labs = [provider.LabEntry(f"LAB{i + 1:03d}", f"县级农产品质量安全检测站 {i + 1:02d}") for i in range(participants)]
    with session_scope(factory, actor=ACTOR, reason="能力验证演示 / PT demo round") as s:
        if not _scheme_exists(s):
            provider.create_scheme(s, code="PROV-PEST", name="蔬菜中农药多残留能力验证", provider_name=PROVIDER)
        provider.create_round(s, scheme_code="PROV-PEST", code=code, title="番茄中农药多残留测定",
                              deadline=now + dt.timedelta(days=21), analytes=specs, matrix="番茄匀浆（冷冻）")
        provider.enrol_participants(s, code, labs, seed=seed)
        for c, _, level in chosen:
            items = rng.normal(level, level * 0.02, size=(10, 2)) + rng.normal(0, level * 0.01, size=(10, 1))
            provider.record_homogeneity(s, code, c, items.tolist())
            provider.record_stability(s, code, c, rng.normal(level, level * 0.02, 3).tolist(),
                                      rng.normal(level * 0.99, level * 0.02, 3).tolist())
        provider.open_round(s, code, now=now)
        parts = provider.participants(s, provider.get_round(s, code))
        rows: list[SubmissionIn] = []
        for i, p in enumerate(parts):
            for j, (c, _, level) in enumerate(chosen):
                value: float | None = float(level * (1 + rng.normal(0, 0.10)))
                if i == 0 and j == 0:
                    value = level * 2.4  # the outlier
                if i == 1 and j == min(1, analytes - 1):
                    value = None  # the false negative
                rows.append(SubmissionIn(
                    p.code, c, None if value is None else round(value, 4), "mg/kg", method="GB 23200.113-2018",
                    loq=DEMO_MRRL, expanded_uncertainty=None if value is None else round(0.5 * value, 4),
                    coverage_factor=None if value is None else 2.0,
                    recovery_percent=round(float(rng.uniform(80, 110)), 1)))
        provider.submit_results(s, code, rows, channel="api", now=now + dt.timedelta(days=1))
        provider.close_round(s, code, now=now + dt.timedelta(days=22))
        scored = scoring.score_round(s, code, now=now + dt.timedelta(days=23))
        provider.publish_round(s, code, now=now + dt.timedelta(days=24))
        pdfs = reports.write_round_reports(s, code, Path(out_dir))
    return {"round": code, "participants": participants, "analytes": analytes, "scores": scored.scores,
            "pdfs": [str(p) for p in pdfs], "unsatisfactory": scored.unsatisfactory,
            "false_negatives": scored.false_negatives}


def _scheme_exists(s: Session) -> bool:
    return code_exists(s, provider.PtScheme, "PROV-PEST")
