"""QC runs on a Levey-Jennings chart judged by the Westgard multirule (Westgard JO et al., Clin Chem
1981;27:493-501): targets set or from ≥ 20 runs of the lab's own data, rules per method, a rejection holds
the linked batch and opens a nonconformity; the chart as SVG."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analysis, Method
from lims.db.models_pt import Nonconformity
from lims.demo import register_samples, seed_reference
from lims.quality import nonconformity as ncs
from lims.quality import qcruns
from lims.quality.charts import levey_jennings_svg
from lims.services import batches
from lims.services.errors import Conflict, InvalidInput, NotFound

pytestmark = pytest.mark.db
CHART = {"material": "QC-菠菜基质", "analyte": "毒死蜱", "instrument": "GC-01"}
T0 = dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)


def _targets(s):
    qcruns.set_target(s, **CHART, level="L1", mean=0.050, sd=0.005)
    qcruns.set_target(s, **CHART, level="L2", mean=0.500, sd=0.040)


def _run(s, i, l1, l2, **kw):
    return qcruns.record_run(s, code=f"QC{i:03d}", **CHART, values=[("L1", l1), ("L2", l2)],
                             run_at=T0 + dt.timedelta(days=i), **kw)


def test_rejection_holds_the_batch_and_opens_a_nonconformity(db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        analysis = s.execute(select(Analysis).where(Analysis.batch_id.is_(None)).order_by(Analysis.id)).scalars().first()
        _targets(s)
        assert _run(s, 1, 0.051, 0.49).accepted
        # L1 z = +2.2 and L2 z = +2.25 in one run: 2-2s across levels
        method_code = s.get(Method, analysis.method_id).code
        batch = batches.create_batch(s, code="B-QC-1", method_code=method_code, instrument_code=None,
                                     analysis_ids=[analysis.id])
        run = _run(s, 2, 0.061, 0.590, batch_code="B-QC-1", raised_by="zhangwei")
        assert (run.accepted, run.rejections, run.warnings) == (False, ["2-2s"], ["1-2s"])
        assert batch.status == "qc_failed" and "2-2s" in batch.qc_summary
        nc = s.get(Nonconformity, run.nonconformity_id)
        assert (nc.source, nc.risk, nc.status) == ("qc", "high", "open")
        assert ncs.active_containment(s, "batch", "B-QC-1")
        assert "2-2s" in batches.batch_held(s, analysis)  # the batch's results are held


def test_target_from_lab_data_needs_20_runs_and_method_rules(db_factory):
    with session_scope(db_factory, actor="zhangwei") as s:
        _targets(s)
        values = [0.050 + 0.002 * ((i % 5) - 2) for i in range(20)]
        for i, v in enumerate(values[:19]):
            _run(s, i, v, 0.5 + (i % 3 - 1) * 0.01)
        with pytest.raises(Conflict) as e:
            qcruns.target_from_data(s, **CHART, level="L1")
        assert e.value.code == "quality.too_few_runs"
        _run(s, 19, values[19], 0.5)
        t = qcruns.target_from_data(s, **CHART, level="L1")
        assert t.n_runs == 20 and t.source == "lab_data" and t.mean == pytest.approx(0.050)
        qcruns.set_method_rules(s, "M-X", "1-3s")
        run = _run(s, 20, t.mean + 2.2 * t.sd, 0.59, method="M-X")  # 2-2s not in the method's rules
        assert run.accepted and run.rules == "1-3s"
        with pytest.raises(InvalidInput) as e:
            qcruns.set_method_rules(s, "M-X", "1-3s,7q")
        assert e.value.field == "rules"
        pts = qcruns.chart_points(s, **CHART, level="L1")
        assert len(pts) == 21 and pts[-1].z == pytest.approx(2.2)
        svg = levey_jennings_svg(pts, title="毒死蜱 L1")
        assert svg.startswith(b"<?xml") and "毒死蜱".encode() in svg


def test_missing_target_is_refused(db_factory):
    with session_scope(db_factory, actor="zhangwei") as s:
        with pytest.raises(NotFound) as e:
            _run(s, 1, 0.05, 0.5)
        assert e.value.code == "quality.no_target"


def test_failed_batch_qc_opens_a_nonconformity(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        batches.create_batch(s, code="B-BLANK", method_code="GC-OP", instrument_code=None, analysis_ids=[])
        batches.add_qc(s, "B-BLANK", kind="reagent_blank", measured_value=0.02, reporting_limit=0.01)
        assert not batches.evaluate_batch_qc(s, "B-BLANK").passed
        batches.evaluate_batch_qc(s, "B-BLANK")  # evaluated again: no second NC
        rows = ncs.list_ncs(s, source="qc")
        assert [(n.source_ref, n.raised_by) for n in rows] == [("B-BLANK", "zhangwei")]
        assert [(lk.kind, lk.ref) for lk in ncs.links_of(s, rows[0].id)] == [("batch", "B-BLANK")]
