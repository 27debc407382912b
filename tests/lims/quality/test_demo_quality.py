"""The demo's quality step (lims.demo.quality): an audit finding closed through CAPA, and a Westgard rejection
(1-3s) that holds its batch and opens a nonconformity."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.db.models import Batch
from lims.db.models_pt import Nonconformity
from lims.demo import seed_reference
from lims.demo.quality import run_quality

pytestmark = pytest.mark.db


def test_demo_quality_step(db_factory):
    seed_reference(db_factory)
    out = run_quality(db_factory, year=2026)
    assert out["audit_nc_closed"] and out["audits"] == 4
    assert (out["qc_runs"], out["westgard_rejections"], out["westgard_rules"]) == (21, 1, ["1-3s"])
    with db_factory() as s:
        assert s.execute(select(Batch.status).where(Batch.code == out["held_batch"])).scalar_one() == "qc_failed"
        nc = s.get(Nonconformity, out["westgard_nc"])
        assert (nc.source, nc.status) == ("qc", "open")
