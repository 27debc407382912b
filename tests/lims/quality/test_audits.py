"""Audits and inspections: clause library shipped as data, a yearly programme covering every clause,
checklists, findings graded major/minor/observation (major/minor open an NC, closed through CAPA), evidence
stored with its SHA-256 and a size limit; bad input refused with a clear error."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from lims.db.engine import session_scope
from lims.db.models_pt import Nonconformity
from lims.quality import audits
from lims.quality import nonconformity as ncs
from lims.services.errors import Conflict, InvalidInput

pytestmark = pytest.mark.db


def test_clause_library_has_17025_clauses_4_to_8_and_rbt214():
    lib = audits.clause_library()
    ids = {c.clause_id for c in lib}
    assert {"17025:4.1", "17025:7.10", "17025:8.9", "RBT214:4.5.9"} <= ids
    assert {c.number.split(".")[0] for c in lib if c.standard.startswith("ISO")} == {"4", "5", "6", "7", "8"}
    assert len(ids) == len(lib)  # no duplicates


def test_programme_covers_every_clause_and_checklist(db_factory):
    with session_scope(db_factory, actor="zhaomin") as s:
        audits.create_programme(s, year=2026, audits=4, lead_auditor="zhaomin")
        cov = audits.programme_coverage(s, 2026)
        assert cov["missing"] == [] and len(cov["covered"]) == len(audits.clause_library())
        items = audits.checklist(s, "IA-2026-01")
        assert items[0]["clause_id"] == "17025:4.1" and "公正性" in items[0]["question"]


def test_finding_opens_nc_closed_through_capa(db_factory, tmp_path):
    today = dt.datetime.now(dt.UTC).date()
    with session_scope(db_factory, actor="zhaomin") as s:
        audits.plan_audit(s, code="FI-1", kind="flight", title="省局飞行检查", start_date=today, end_date=today,
                          clauses=["17025:7.5", "RBT214:4.5.11"])
        audits.start_audit(s, "FI-1")
        obs = audits.add_finding(s, "FI-1", clause_id="17025:7.5", grade="observation",
                                 description="记录字迹可改进", raised_by="zhaomin")
        assert obs.nonconformity_id is None
        f = audits.add_finding(s, "FI-1", clause_id="RBT214:4.5.11", grade="major", raised_by="zhaomin",
                               description="原始记录未记录检测环境温度")
        nc = s.get(Nonconformity, f.nonconformity_id)
        assert (nc.source, nc.risk) == ("audit", "high")
        ev = audits.attach_evidence(s, owner_kind="finding", owner_id=f.id, filename="../照片.jpg", data=b"jpeg",
                                    store_dir=tmp_path)
        assert ev.sha256 == hashlib.sha256(b"jpeg").hexdigest() and ev.filename == "照片.jpg"
        assert audits.evidence_ok(ev, tmp_path)  # found by its SHA-256 in the evidence folder
        with pytest.raises(Conflict) as e:  # major → high risk: containment first
            ncs.record_root_cause(s, nc.id, "记录表格无温度栏")
        assert e.value.code == "quality.containment_required"
        ncs.contain(s, nc.id, containment="note", kind="finding", ref=str(f.id), note="已出报告不受影响（温度有监控记录）")
        ncs.record_root_cause(s, nc.id, "记录表格无温度栏")
        a = ncs.add_action(s, nc.id, description="修订记录表格", owner="liqiang", due_date=today)
        ncs.complete_action(s, a.id, note="表格 F-12 第 3 版")
        ncs.implement(s, nc.id)
        ncs.verify_effectiveness(s, nc.id, verification="抽查 10 份记录均有温度")
        ncs.close(s, nc.id)
        audits.complete_audit(s, "FI-1")
        assert nc.status == "closed"


def test_bad_input(db_factory, tmp_path):
    with session_scope(db_factory, actor="zhaomin") as s:
        with pytest.raises(InvalidInput) as e:
            audits.plan_audit(s, code="A", kind="internal", title="", start_date=dt.date(2026, 5, 2),
                              end_date=dt.date(2026, 5, 1), clauses=["17025:7.10"])
        assert e.value.code == "quality.dates_out_of_order" and e.value.field == "end_date"
        with pytest.raises(InvalidInput) as e:
            audits.plan_audit(s, code="A", kind="internal", title="", start_date=dt.date(2026, 5, 1),
                              end_date=dt.date(2026, 5, 1), clauses=["17025:9.9"])
        assert e.value.code == "quality.unknown_clause" and "17025:9.9" in str(e.value)
        with pytest.raises(InvalidInput) as e:
            audits.plan_audit(s, code="A", kind="party", title="", start_date=dt.date(2026, 5, 1),
                              end_date=dt.date(2026, 5, 1), clauses=["17025:7.10"])
        assert e.value.field == "kind"
        with pytest.raises(InvalidInput) as e:
            audits.attach_evidence(s, owner_kind="audit", owner_id=1, filename="big.pdf", data=b"x" * 11,
                                   store_dir=tmp_path / "ev", max_bytes=10)
        assert e.value.code == "quality.file_too_large" and "limit is 10 bytes" in str(e.value)
        assert not (tmp_path / "ev").exists()
