"""A wrong sample field is corrected through an audited edit (issue 11): a character the report font cannot
print (𠮷, stored before entry was checked) made every report of that sample fail; PATCH /api/v1/samples/{code}
with a reason corrects it (the audit trail keeps old → new and the reason) and the report then issues. Once the
sample has a report, the correction is refused (409 sample.reported): after reporting it is a report amendment."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models import Analysis, User
from lims.db.models_system import AuditEvent
from lims.demo import qc_passed_batch, seed_reference
from lims.reports.pdf import UnprintableTextError
from lims.services import auth, batches, reporting, sampling
from lims.text import unprintable
from tests.api.test_verify_page import _signed

TZ = dt.timezone(dt.timedelta(hours=8))
RARE = "\U00020bb7"  # 𠮷


@pytest.fixture
def lab(db_engine, db_factory, tmp_path):
    if not unprintable(RARE):
        pytest.skip("the installed report font prints U+20BB7")
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        sampling.register_sample(s, sampling.RegisterSample(  # as stored before entry was checked
            code="S-FIX-1", commodity_code="QINCAI", sampled_at=dt.datetime.now(TZ), sampling_place=f"{RARE}家村",
            region_code="511521", sampling_link="before_harvest", samplers=["赵磊", "孙敏"],
            requested=[("CHLORPYRIFOS", "GC-OP")]))
        sampling.receive_sample(s, "S-FIX-1", actor="zhangwei", condition="完好", storage="A2")
        tech = s.execute(select(User).where(User.username == "zhangwei")).scalar_one()
        aid = s.execute(select(Analysis.id)).scalar_one()
        qc_passed_batch(s, "B-FIX-1", "GC-OP", [aid])  # a confirmatory result needs its batch QC
        rid = batches.enter_manual_result(s, analysis_id=aid, value_text="0.02", value=0.02, unit="mg/kg",
                                          reason="数据系统离线，按谱图录入", analyst_id=tech.id).id
        token = auth.create_bearer_token(s, tech).token
    _signed(db_factory, rid)
    client = TestClient(create_app(db_engine))
    client.headers.update({"Authorization": f"Bearer {token}"})
    return client, tmp_path


def _issue(db_factory, out_dir):
    with session_scope(db_factory, actor="wangfang") as s:
        return reporting.issue_report(s, "S-FIX-1", out_dir=out_dir).report_no


def test_an_unprintable_field_is_corrected_by_an_audited_edit_and_the_report_then_issues(lab, db_factory,
                                                                                        monkeypatch):
    client, out_dir = lab
    monkeypatch.setenv("LIMS_REPORT_DIR", str(out_dir / "api"))
    get_settings.cache_clear()
    with pytest.raises(UnprintableTextError):
        _issue(db_factory, out_dir)  # the reproduction: every report of this sample failed
    r = client.patch("/api/v1/samples/S-FIX-1", json={"sampling_place": f"{RARE}家村", "reason": "录入有误，更正"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.sampling_place"  # still unprintable
    assert client.patch("/api/v1/samples/S-FIX-1", json={"sampling_place": "吉家村"}).status_code == 422  # no reason
    r = client.patch("/api/v1/samples/S-FIX-1", json={"sampling_place": "吉家村", "reason": "生僻字无法打印，按身份证改为吉"})
    assert r.status_code == 200, r.text
    assert r.json()["sampling_place"] == "吉家村"
    with db_factory() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.table_name == "sample")
                       .order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    assert "生僻字无法打印" in ev.reason and ev.actor == "zhangwei"
    assert f"{RARE}家村" in ev.old and "吉家村" in ev.new
    first = _issue(db_factory, out_dir)
    r = client.patch("/api/v1/samples/S-FIX-1", json={"quantity": "2 kg", "reason": "称量记录更正"})
    assert r.status_code == 409 and r.json()["detail"]["code"] == "sample.reported"
    # after reporting, a correction is a report amendment: sample corrected and amended report issued together
    body = {"quantity": "2 kg", "reason": "称量记录更正", "amend_report": True}
    assert client.patch("/api/v1/samples/S-FIX-1", json=body).status_code == 403  # a technician issues no report
    with session_scope(db_factory, actor="setup") as s:
        both = auth.create_user(s, "zhao", "赵主任", "Both-Roles-Passw0rd!", ["technician", "approver"])
        token = auth.create_bearer_token(s, both).token
    r = client.patch("/api/v1/samples/S-FIX-1", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    with db_factory() as s:
        from lims.db.models import Report

        reports = s.execute(select(Report).order_by(Report.version)).scalars().all()
    assert [r.version for r in reports] == [1, 2] and reports[0].report_no == first
    assert "称量记录更正" in reports[1].amendment_reason
    with db_factory() as s:
        from lims.db.models import Sample

        assert s.execute(select(Sample.quantity).where(Sample.code == "S-FIX-1")).scalar_one() == "2 kg"


def test_only_printed_fields_and_at_least_one(lab):
    client, _ = lab
    assert client.patch("/api/v1/samples/S-FIX-1", json={"reason": "nothing given"}).status_code == 422
    assert client.patch("/api/v1/samples/S-FIX-1", json={"code": "X", "reason": "改编号不允许"}).status_code == 422
    assert client.patch("/api/v1/samples/NOPE", json={"quantity": "1 kg", "reason": "不存在的样品"}).status_code == 404
