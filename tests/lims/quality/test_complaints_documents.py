"""Complaints (17025 7.9) and document control (8.3)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from lims.db.engine import session_scope
from lims.db.models_pt import Nonconformity
from lims.quality import complaints, documents
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.workflow import IllegalTransition

pytestmark = pytest.mark.db


def test_complaint_opens_nc_and_needs_a_resolution(db_factory):
    with session_scope(db_factory, actor="zhaomin") as s:
        c = complaints.receive(s, code="TS-1", complainant="某合作社", subject="报告结论有误",
                               description="认为检测结果偏高")
        complaints.investigate(s, "TS-1", raised_by="zhaomin", open_nc=True)
        assert s.get(Nonconformity, c.nonconformity_id).source == "complaint"
        with pytest.raises(InvalidInput):
            complaints.resolve(s, "TS-1", resolution=" ")
        with pytest.raises(IllegalTransition):  # closed only once resolved
            complaints.close(s, "TS-1")
        complaints.resolve(s, "TS-1", resolution="留样复测结果一致，已书面答复")
        complaints.close(s, "TS-1")
        assert c.status == "closed"
        with pytest.raises(InvalidInput) as e:
            complaints.receive(s, code="TS-2", complainant="x", subject="y", description="z",
                               received_on=dt.date.today() + dt.timedelta(days=3))
        assert e.value.code == "quality.dates_out_of_order"


def test_document_versions_approval_distribution_review_withdrawal(db_factory, tmp_path):
    t1 = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    with session_scope(db_factory, actor="zhaomin") as s:
        documents.register(s, code="SOP-07", title="农药残留检测作业指导书", kind="sop", review_interval_months=12)
        v1 = documents.draft(s, "SOP-07", version="A/0", content=b"v1", store_dir=tmp_path)
        with pytest.raises(Conflict):  # a draft is not distributed
            documents.distribute(s, "SOP-07", version="A/0", holders=["检测室"])
        documents.approve(s, "SOP-07", version="A/0", approver="zhaomin", now=t1)
        documents.distribute(s, "SOP-07", version="A/0", holders=["检测室", "样品室"])
        assert v1.next_review_on == dt.date(2027, 1, 10) and v1.distribution == ["样品室", "检测室"]
        assert v1.approved_by == "zhaomin" and v1.sha256 == hashlib.sha256(b"v1").hexdigest()
        assert (tmp_path / v1.sha256).read_bytes() == b"v1"  # the file is kept, named by its SHA-256
        assert documents.version_file(s, "SOP-07", "A/0", tmp_path)[1] == b"v1"
        documents.draft(s, "SOP-07", version="B/0")  # recorded without a file: nothing to download
        with pytest.raises(NotFound) as e:
            documents.version_file(s, "SOP-07", "B/0", tmp_path)
        assert e.value.code == "document.no_file"
        assert documents.due_for_review(s, today=dt.date(2027, 1, 10)) == [("SOP-07", "A/0", dt.date(2027, 1, 10))]
        v2 = documents.draft(s, "SOP-07", version="A/1", content=b"v2", store_dir=tmp_path)
        documents.approve(s, "SOP-07", version="A/1", approver="zhaomin", now=t1 + dt.timedelta(days=30))
        assert (v1.status, v2.status) == ("obsolete", "approved") and v1.withdrawn_at is not None
        with pytest.raises(InvalidInput):
            documents.register(s, code="F-1", title="x", kind="memo")
