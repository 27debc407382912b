"""Nonconforming work and CAPA (ISO/IEC 17025:2017 7.10, 8.7): raised by hand, contained, root cause, actions
with owners and due dates, effectiveness verified before closing; recall of an issued report amends it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import AuditEvent, Report, Result, Sample
from lims.quality import nonconformity as ncs
from lims.services import reporting
from lims.services.errors import Conflict, InvalidInput
from lims.workflow import GuardRefused, IllegalTransition
from tests.lims.conftest import certified_result

pytestmark = pytest.mark.db
TODAY = dt.datetime.now(dt.UTC).date()


def _raise(s, **kw):
    args = {"source": "manual", "description": "农残检测中使用了过期的内标溶液", "raised_by": "zhaomin",
            "risk": "high", "owner": "liqiang", "today": TODAY}
    return ncs.raise_nc(s, **{**args, **kw})


def test_whole_path_nc_containment_capa_effectiveness_close(db_factory):
    with session_scope(db_factory, actor="zhaomin") as s:
        nc = _raise(s, links=[("method", "GB23200.113")])
        nc_id = nc.id
        assert nc.status == "open" and nc.due_date == TODAY + dt.timedelta(days=7)  # high risk: 7 days
        ncs.contain(s, nc_id, containment="stop_work", kind="method", ref="GB23200.113",
                    note="暂停该方法检测，直至更换内标")
        assert [link.ref for link in ncs.active_containment(s, "method", "GB23200.113")] == ["GB23200.113"]
        with pytest.raises(Conflict) as e:  # nothing done yet: cannot implement
            ncs.implement(s, nc_id)
        assert e.value.code == "quality.no_actions"
        ncs.record_root_cause(s, nc_id, "溶液有效期未纳入领用核查")
        act = ncs.add_action(s, nc_id, description="溶液领用增加有效期核查", owner="liqiang",
                             due_date=TODAY + dt.timedelta(days=5))
        with pytest.raises(Conflict) as e:
            ncs.implement(s, nc_id)
        assert e.value.code == "quality.actions_open"
        ncs.complete_action(s, act.id, note="SOP-07 已修订", now=dt.datetime.now(dt.UTC))
        ncs.implement(s, nc_id)
        with pytest.raises(IllegalTransition):  # effectiveness check comes before closing
            ncs.close(s, nc_id)
        ncs.verify_effectiveness(s, nc_id, verification="抽查 20 个批次，均核查有效期")
        ncs.close(s, nc_id, note="有效")
        assert nc.status == "closed" and nc.closed_at is not None
        assert ncs.active_containment(s, "method", "GB23200.113") == []  # stop-work lifted at close
    with session_scope(db_factory, actor="zhaomin") as s:
        events = s.execute(select(AuditEvent.actor, AuditEvent.table_name)
                           .where(AuditEvent.table_name.in_(["nonconformity", "capa_action", "nc_link"]))).all()
        assert {t for _, t in events} == {"nonconformity", "capa_action", "nc_link"}
        assert {a for a, _ in events} == {"zhaomin"}


def test_close_needs_verified_effectiveness_guard(db_factory):
    with session_scope(db_factory, actor="zhaomin") as s:
        nc = _raise(s)
        nc.status, nc.root_cause, nc.action = "verified", "x", "y"
        nc.closed_at = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
        with pytest.raises(GuardRefused, match="effectiveness"):
            ncs.close(s, nc.id)


def test_bad_input_dates_and_values(db_factory):
    with session_scope(db_factory, actor="zhaomin") as s:
        with pytest.raises(InvalidInput) as e:
            _raise(s, due_date=TODAY - dt.timedelta(days=1))
        assert e.value.code == "quality.dates_out_of_order" and e.value.field == "due_date"
        with pytest.raises(InvalidInput) as e:
            _raise(s, risk="extreme")
        assert e.value.field == "risk"
        nc = _raise(s)
        with pytest.raises(InvalidInput) as e:
            ncs.add_action(s, nc.id, description="x", owner="y", due_date=dt.date(2000, 1, 1))
        assert e.value.code == "quality.dates_out_of_order"
        with pytest.raises(InvalidInput) as e:
            ncs.contain(s, nc.id, containment="recall", kind="method", ref="M1", note="x")
        assert e.value.code == "quality.containment_mismatch"


def test_overdue_lists_ncs_and_actions_past_due(db_factory):
    with session_scope(db_factory, actor="zhaomin") as s:
        nc = _raise(s, risk="low")
        ncs.add_action(s, nc.id, description="培训", owner="zhangwei", due_date=TODAY + dt.timedelta(days=3))
        assert ncs.overdue(s, today=TODAY + dt.timedelta(days=2)) == []
        late = ncs.overdue(s, today=TODAY + dt.timedelta(days=61))
        assert [(o.action_id is None, o.days_overdue) for o in late] == [(False, 58), (True, 1)]


def test_recall_of_an_issued_report_produces_an_amendment(db_factory, tmp_path):
    rid = certified_result(db_factory)
    with session_scope(db_factory, actor="wangfang") as s:
        sample = s.get(Sample, s.get(Result, rid).analysis.sample_id)
        first = reporting.issue_report(s, sample.code, out_dir=tmp_path)
        report_no = first.report_no
    with session_scope(db_factory, actor="zhaomin") as s:
        nc = _raise(s, description="报告中检测方法编号错误", links=[("report", report_no)])
        ncs.contain(s, nc.id, containment="recall", kind="report", ref=report_no, note="方法编号印错")
        reports = s.execute(select(Report).order_by(Report.version)).scalars().all()
        assert [(r.version, r.status) for r in reports] == [(1, "superseded"), (2, "issued")]
        assert f"NC-{nc.id}" in reports[1].amendment_reason
        assert {(lk.kind, lk.ref) for lk in ncs.links_of(s, nc.id)} >= {("report", reports[1].report_no)}
        with pytest.raises(Exception) as e:  # the superseded report cannot be recalled again
            ncs.contain(s, nc.id, containment="recall", kind="report", ref=report_no, note="again")
        assert getattr(e.value, "code", None) == "quality.report_not_issued"


def test_withheld_report_is_refused_until_the_nc_closes(db_factory, tmp_path):
    rid = certified_result(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        sample = s.get(Sample, s.get(Result, rid).analysis.sample_id)
        code = sample.code
        nc = _raise(s, description="结果待复核")
        ncs.contain(s, nc.id, containment="withhold", kind="result", ref=str(rid), note="复核前暂停发报告")
        nc_id = nc.id
    with session_scope(db_factory, actor="wangfang") as s:
        with pytest.raises(Conflict) as e:
            reporting.issue_report(s, code, out_dir=tmp_path)
        assert e.value.code == "quality.report_withheld" and f"NC-{nc_id}" in str(e.value)
    with session_scope(db_factory, actor="zhaomin") as s:
        ncs.record_root_cause(s, nc_id, "复核完成，结果无误")
        a = ncs.add_action(s, nc_id, description="复核", owner="liqiang", due_date=TODAY)
        ncs.complete_action(s, a.id, note="无误")
        ncs.implement(s, nc_id)
        ncs.verify_effectiveness(s, nc_id, verification="复核记录齐全")
        ncs.close(s, nc_id)
    with session_scope(db_factory, actor="wangfang") as s:
        assert reporting.issue_report(s, code, out_dir=tmp_path).version == 1


def test_stop_work_refuses_new_batches_on_the_method_until_closed(db_factory):
    from lims.demo import seed_reference
    from lims.services import batches

    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        nc = _raise(s, description="GC-OP 方法回收率连续偏低")
        ncs.contain(s, nc.id, containment="stop_work", kind="method", ref="GC-OP", note="暂停 GC-OP")
        with pytest.raises(Conflict) as e:
            batches.create_batch(s, code="B-STOP", method_code="GC-OP", instrument_code=None, analysis_ids=[])
        assert e.value.code == "quality.work_stopped" and f"NC-{nc.id}" in str(e.value)
        batches.create_batch(s, code="B-OTHER", method_code="LC-BA", instrument_code=None, analysis_ids=[])
