"""Fixtures of the lims tests: a certified result of the demo reference data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analysis, Instrument, RawCapture, Reading, Result
from lims.demo import PASSWORDS, register_samples, seed_reference
from lims.services import signoff


@pytest.fixture
def make_certified() -> Callable[..., int]:
    """``make_certified(factory)`` → id of a certified screening result (analyst, reviewer, approver signed)."""
    return certified_result


def reviewed_result(factory) -> int:
    """A screening result of the registered demo samples, authored by zhangwei and reviewed by liqiang."""
    with session_scope(factory, actor="zhangwei") as s:
        inst = s.execute(select(Instrument).where(Instrument.code == "EI-01")).scalar_one()
        analysis = s.execute(select(Analysis).order_by(Analysis.id)).scalars().first()
        cap = RawCapture(instrument_id=inst.id, data=b"x", sha256="0" * 64, profile="p")
        s.add(cap)
        s.flush()
        rd = Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="CH", channel=1,
                     sample_code=analysis.sample.code, fields={})
        s.add(rd)
        s.flush()
        r = Result(analysis_id=analysis.id, value=12.5, value_text="12.5% 阴性", unit="%", reading_id=rd.id,
                   source="instrument")
        s.add(r)
        s.flush()
        rid = r.id
    for who, fn in (("zhangwei", signoff.author_results), ("liqiang", signoff.review_results)):
        with session_scope(factory, actor=who) as s:
            fn(s, [rid], username=who, password=PASSWORDS[who])
    return rid


def certified_result(factory) -> int:
    """A screening result of the demo reference data, signed by analyst, reviewer and approver."""
    seed_reference(factory)
    register_samples(factory)
    rid = reviewed_result(factory)
    with session_scope(factory, actor="wangfang") as s:
        signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code="LAB")
    return rid
