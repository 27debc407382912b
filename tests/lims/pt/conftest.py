"""Builders of a small provider round (simulated, illustrative numbers) for the PT service tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lims.db.engine import session_scope
from lims.pt import provider
from lims.pt.submissions import SubmissionIn

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
DEADLINE = T0 + dt.timedelta(days=14)
ROUND = "PT-T-01"
#: Eight labs' chlorpyrifos results (mg/kg); the last one is an outlier.
CHLORPYRIFOS = [0.148, 0.156, 0.139, 0.161, 0.152, 0.145, 0.158, 0.35]


@pytest.fixture
def make_round(db_factory: sessionmaker[Session]) -> Callable[..., list[str]]:
    """Create scheme + open round with two analytes and ``labs`` participants; returns their codes."""

    def build(labs: int = 8, *, specs: list[provider.AnalyteSpec] | None = None, seed: int = 7) -> list[str]:
        specs = specs or [
            provider.AnalyteSpec("chlorpyrifos", 0.01, name_zh="毒死蜱"),
            provider.AnalyteSpec("omethoate", 0.01, name_zh="氧乐果"),
        ]
        with session_scope(db_factory, actor="qa") as s:
            provider.create_scheme(s, code="S1", name="蔬菜农药残留能力验证", provider_name="省检测中心")
            provider.create_round(s, scheme_code="S1", code=ROUND, title="番茄中农药残留", deadline=DEADLINE,
                                  analytes=specs, matrix="番茄匀浆")
            parts = provider.enrol_participants(
                s, ROUND, [provider.LabEntry(f"L{i:02d}", f"检测站{i:02d}") for i in range(labs)], seed=seed)
            provider.open_round(s, ROUND, now=T0)
            return [p.code for p in parts]

    return build


def rows_for(codes: list[str], values: list[float | None], analyte: str = "chlorpyrifos",
             u_rel: float | None = 0.5) -> list[SubmissionIn]:
    return [SubmissionIn(c, analyte, v, "mg/kg", method="GB 23200.113-2018", loq=0.01,
                         expanded_uncertainty=None if v is None or u_rel is None else u_rel * v,
                         coverage_factor=None if v is None or u_rel is None else 2.0)
            for c, v in zip(codes, values, strict=True)]


class PtCase:
    """Constants and helpers shared by the PT tests (conftest modules are not importable)."""

    t0 = T0
    deadline = DEADLINE
    round = ROUND
    chlorpyrifos = CHLORPYRIFOS
    rows_for = staticmethod(rows_for)


@pytest.fixture
def pt() -> type[PtCase]:
    return PtCase
