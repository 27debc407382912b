"""Audit trail: every change is an event in the same transaction; tampering is detected;
certified results and issued reports cannot change through the ORM or plain SQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from lims.db import triggers
from lims.db.audit import ImmutableRecordError, verify_chain
from lims.db.engine import session_scope
from lims.db.models import AuditEvent, Producer, Result
from lims.db.verify import verify_database
from lims.demo import seed_reference
from lims.services import signoff
from lims.services.screening import results_from_readings  # noqa: F401  (import check)
from tests.lims.conftest import certified_result


def _producer(factory, name="合作社甲"):
    with session_scope(factory, actor="tester", reason="create") as s:
        p = Producer(name=name, credit_code="93511521MA6XXXXX1A", kind="cooperative")
        s.add(p)
        s.flush()
        return p.id


def test_create_update_delete_are_recorded_with_old_and_new(db_factory):
    pid = _producer(db_factory)
    with session_scope(db_factory, actor="alice", reason="typo in name") as s:
        s.get(Producer, pid).name = "合作社乙"
    with session_scope(db_factory, actor="bob", reason="duplicate entry") as s:
        s.delete(s.get(Producer, pid))
    with db_factory() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.table_name == "producer")
                           .order_by(AuditEvent.seq)).scalars().all()
        assert [e.action for e in events] == ["create", "update", "delete"]
        assert json.loads(events[1].old) == {"name": "合作社甲"}
        assert json.loads(events[1].new) == {"name": "合作社乙"}
        assert (events[1].actor, events[1].reason) == ("alice", "typo in name")
        assert json.loads(events[2].old)["name"] == "合作社乙"
        assert verify_chain(s).ok


def test_failed_transaction_leaves_no_event(db_factory):
    with pytest.raises(RuntimeError):
        with session_scope(db_factory, actor="x") as s:
            s.add(Producer(name="never"))
            s.flush()
            raise RuntimeError("boom")
    with db_factory() as s:
        assert s.execute(select(AuditEvent)).first() is None


def _drop_triggers(engine):
    with engine.begin() as c:
        for stmt in triggers.drop_statements(engine.dialect.name):
            c.execute(text(stmt))


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_direct_sql_tampering_is_detected(db_engine, db_factory, tamper):
    for i in range(4):
        _producer(db_factory, f"P{i}")
    with db_factory() as s:
        assert verify_chain(s).ok
    _drop_triggers(db_engine)  # a DBA bypassing the application and the triggers
    with db_engine.begin() as c:
        if tamper == "edit":
            c.execute(text("UPDATE audit_event SET new = replace(new, 'P2', 'PX') WHERE seq = 3"))
        elif tamper == "delete":
            c.execute(text("DELETE FROM audit_event WHERE seq = 2"))
        else:
            c.execute(text("UPDATE audit_event SET seq = 100 WHERE seq = 2"))
            c.execute(text("UPDATE audit_event SET seq = 2 WHERE seq = 3"))
            c.execute(text("UPDATE audit_event SET seq = 3 WHERE seq = 100"))
    with db_factory() as s:
        check = verify_chain(s)
    assert not check.ok
    assert check.first_broken_seq in (2, 3)




def test_certified_result_is_immutable_through_the_orm(db_factory):
    rid = certified_result(db_factory)
    with pytest.raises(ImmutableRecordError):
        with session_scope(db_factory, actor="mallory") as s:
            s.get(Result, rid).value = 99.0
    with pytest.raises(ImmutableRecordError):
        with session_scope(db_factory, actor="mallory") as s:
            s.delete(s.get(Result, rid))
    with db_factory() as s:
        assert verify_database(s).ok


def test_certified_result_is_immutable_through_plain_sql(db_engine, db_factory):
    rid = certified_result(db_factory)
    for stmt in (f"UPDATE result SET value = 99 WHERE id = {rid}", f"DELETE FROM result WHERE id = {rid}",
                 "UPDATE audit_event SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_event WHERE seq = 1",
                 f"UPDATE result SET status = 'to_be_reviewed' WHERE id = {rid}"):
        with pytest.raises(DBAPIError):
            with db_engine.begin() as c:
                c.execute(text(stmt))
    # the reporting life cycle is still allowed
    with db_engine.begin() as c:
        c.execute(text(f"UPDATE result SET status = 'reported' WHERE id = {rid}"))


def test_verify_detects_a_certified_value_changed_behind_the_triggers(db_engine, db_factory):
    rid = certified_result(db_factory)
    _drop_triggers(db_engine)
    with db_engine.begin() as c:
        c.execute(text(f"UPDATE result SET value = 55.5 WHERE id = {rid}"))
    with db_factory() as s:
        check = verify_database(s)
    assert not check.ok
    assert f"result {rid}" in check.message


def test_signing_rules_reviewer_not_analyst_and_wrong_password(db_factory):
    seed_reference(db_factory)
    from lims.security import AuthenticationError

    with pytest.raises(AuthenticationError):
        with session_scope(db_factory, actor="liqiang") as s:
            signoff.review_results(s, [1], username="liqiang", password="wrong-password")
