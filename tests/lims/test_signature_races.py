"""Issue 11, double submits: parallel reviews gave two "Reviewed by" signatures on PostgreSQL, parallel
approvals and amendments gave 500s (UniqueViolation), and authorship could be signed again and again. One
signature per meaning per record version is enforced by the database (uq_signature_meaning); the second
attempt is a clean Conflict (409) with a code. Threads race through real sessions on either database."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from lims.db.engine import session_scope
from lims.db.models import Result, Signature
from lims.demo import PASSWORDS
from lims.services import signoff
from lims.services.errors import Conflict
from lims.vocabulary import SignatureMeaning

THREADS = 4
#: Codes a losing request may get: the database refused the second signature, or the request saw the
#: first one's result (SQLite serialises writers, so the loser sees the new status).
LOSING = {"signoff.already_signed", "result.not_to_be_reviewed", "result.not_reviewed",
          "result.amendment_in_progress", "auth.signature_throttled"}


def _race(factory, actor: str, action) -> tuple[int, list[str], list[BaseException]]:
    barrier = threading.Barrier(THREADS)
    wins: list[int] = []
    codes: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            with session_scope(factory, actor=actor) as s:
                action(s)
            wins.append(1)
        except Conflict as exc:
            codes.append(exc.code or "")
        except BaseException as exc:  # noqa: BLE001 - a 500 is what this test is about
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return len(wins), codes, errors


def _count(factory, rid: int, meaning: str) -> int:
    with factory() as s:
        return int(s.execute(select(func.count()).select_from(Signature).where(
            Signature.record_id == rid, Signature.meaning == meaning)).scalar_one())


def _authored_result(factory, make_certified) -> int:
    """A certified result's amendment, authored and waiting for review."""
    rid = make_certified(factory)
    with session_scope(factory, actor="zhangwei") as s:
        analyst = s.get(Result, rid).analyst_id
        new = signoff.amend_result(s, rid, value=13.0, value_text="13.0% 阴性", reason="transcription corrected",
                                   analyst_id=analyst)
        new_id = new.id
    with session_scope(factory, actor="zhangwei") as s:
        signoff.author_results(s, [new_id], username="zhangwei", password=PASSWORDS["zhangwei"])
    return new_id


def test_parallel_reviews_give_one_signature_and_clean_conflicts(db_factory, make_certified):
    rid = _authored_result(db_factory, make_certified)
    wins, codes, errors = _race(db_factory, "liqiang", lambda s: signoff.review_results(
        s, [rid], username="liqiang", password=PASSWORDS["liqiang"]))
    assert not errors, errors
    assert wins == 1 and len(codes) == THREADS - 1 and set(codes) <= LOSING, codes
    assert _count(db_factory, rid, SignatureMeaning.REVIEW) == 1


def test_parallel_approvals_give_one_signature_and_clean_conflicts(db_factory, make_certified):
    rid = _authored_result(db_factory, make_certified)
    with session_scope(db_factory, actor="liqiang") as s:
        signoff.review_results(s, [rid], username="liqiang", password=PASSWORDS["liqiang"])
    wins, codes, errors = _race(db_factory, "wangfang", lambda s: signoff.approve_results(
        s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code="LAB"))
    assert not errors, errors
    assert wins == 1 and set(codes) <= LOSING, codes
    assert _count(db_factory, rid, SignatureMeaning.APPROVAL) == 1


def test_parallel_amendments_give_one_version_and_clean_conflicts(db_factory, make_certified):
    rid = make_certified(db_factory)
    with db_factory() as s:
        analyst = s.get(Result, rid).analyst_id
    wins, codes, errors = _race(db_factory, "zhangwei", lambda s: signoff.amend_result(
        s, rid, value=13.0, value_text="13.0% 阴性", reason="transcription corrected", analyst_id=analyst))
    assert not errors, errors
    assert wins == 1 and set(codes) <= LOSING, codes
    with db_factory() as s:
        assert s.execute(select(func.count()).where(Result.supersedes_id == rid)).scalar_one() == 1


def test_authorship_cannot_be_signed_twice(db_factory, make_certified):
    rid = _authored_result(db_factory, make_certified)
    with pytest.raises(Conflict) as err:
        with session_scope(db_factory, actor="zhangwei") as s:
            signoff.author_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    assert err.value.code == "signoff.already_signed"
    assert _count(db_factory, rid, SignatureMeaning.AUTHORSHIP) == 1
