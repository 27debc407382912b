"""List pages (sample list, result-review queue): newest first, filters applied before paging, the
capped count riding in the same statement, an empty page past the end still counted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analysis, Analyte, Commodity, Lab, Method, Result, Sample
from lims.demo import seed_reference
from lims.services import queries


@pytest.fixture()
def listed(db_factory):
    """24 samples, one result each; every third sample (and its result) waits for review."""
    seed_reference(db_factory)
    with session_scope(db_factory, actor="test") as s:
        lab = s.execute(select(Lab)).scalars().first()
        commodity = s.execute(select(Commodity)).scalars().first()
        method = s.execute(select(Method)).scalars().first()
        analyte = s.execute(select(Analyte)).scalars().first()
        for i in range(24):
            waiting = i % 3 == 0
            smp = Sample(code=f"L-{i:03d}", lab_id=lab.id, commodity_id=commodity.id, task_code="T-LIST",
                         status="to_be_reviewed" if waiting else "registered")
            s.add(smp)
            s.flush()
            a = Analysis(sample_id=smp.id, method_id=method.id, analyte_id=analyte.id, kind="confirmatory",
                         status="done")
            s.add(a)
            s.flush()
            s.add(Result(analysis_id=a.id, value=0.01 * i, value_text=f"{0.01 * i:.2f}",
                         status="to_be_reviewed" if waiting else "rejected"))
    return db_factory


def _codes(page: queries.Page, key: str) -> list[str]:
    return [row[key] for row in page.items]


def test_sample_pages_newest_first_with_counts(listed, monkeypatch):
    with listed.read() as s:
        first = queries.list_samples(s, task_code="T-LIST", limit=5)
        assert _codes(first, "code") == [f"L-{i:03d}" for i in range(23, 18, -1)]
        assert (first.total, first.total_exact) == (24, True)
        waiting = queries.list_samples(s, status="to_be_reviewed", limit=3, offset=3)
        assert _codes(waiting, "code") == ["L-012", "L-009", "L-006"]
        assert (waiting.total, waiting.total_exact) == (8, True)
        past = queries.list_samples(s, status="to_be_reviewed", limit=3, offset=30)
        assert (past.items, past.total, past.total_exact) == ([], 8, True)
        monkeypatch.setattr(queries, "COUNT_CAP", 4)  # counted up to offset + 4
        capped = queries.list_samples(s, task_code="T-LIST", limit=2, offset=10)
        assert _codes(capped, "code") == ["L-013", "L-012"]
        assert (capped.total, capped.total_exact) == (14, False)
        tail = queries.list_samples(s, task_code="T-LIST", limit=5, offset=20)
        assert (len(tail.items), tail.total, tail.total_exact) == (4, 24, True)


def test_review_queue_pages_and_signatures(listed):
    with listed.read() as s:
        page = queries.list_results(s, status="to_be_reviewed", limit=4)
        assert _codes(page, "sample_code") == ["L-021", "L-018", "L-015", "L-012"]
        assert all(r["status"] == "to_be_reviewed" and r["signatures"] == [] for r in page.items)
        assert (page.total, page.total_exact) == (8, True)
        one = queries.list_results(s, sample_code="L-007")
        assert _codes(one, "sample_code") == ["L-007"] and one.items[0]["value_text"] == "0.07"
        assert "_total" not in one.items[0]


def test_read_session_refuses_to_write(listed):
    with listed.read() as s:
        s.add(Sample(code="NEVER", lab_id=1, commodity_id=1))
        with pytest.raises(RuntimeError, match="read-only session"):
            s.flush()
    with listed() as s:
        assert s.execute(select(Sample).where(Sample.code == "NEVER")).first() is None
