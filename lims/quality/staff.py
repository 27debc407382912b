"""Staff (ISO/IEC 17025:2017 6.2; RB/T 214 4.2): training records, competence assessments and the
authorisation matrix — person × method (× instrument) with what they may do (test / review / sign) and
when. The method signatory list (:class:`~lims.db.models.MethodSignatory`, 授权签字人) is the matrix's
``may_sign`` column: granting ``may_sign`` adds the person to it, so there is one list of signatories.

Enforcement (:func:`require`, called by sign-off and acquisition): the matrix is *in force* once the lab
has entered any authorisation; from then on a person needs a cell valid on the day for the method (and
the instrument, when the cell names one). A lab that has not started its matrix keeps the signatory list
alone. Services take a Session and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models import Analysis, Batch, Instrument, Method, MethodSignatory, Result, User
from lims.db.models_registers import StaffAuthorisation, TrainingRecord
from lims.quality.common import choice, ordered, text
from lims.quality.registers_vocab import CheckOutcome, TrainingKind
from lims.services.errors import Forbidden, InvalidInput, NotFound
from lims.services.lookup import get_by_code

ACTIONS = ("test", "review", "sign")


def _user(s: Session, username: str) -> User:
    user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username} does not exist", field="username")
    return user


@dataclass(frozen=True)
class Grant:
    username: str
    method_code: str
    valid_from: dt.date
    granted_by: str
    may_test: bool = False
    may_review: bool = False
    may_sign: bool = False
    instrument_code: str | None = None
    valid_until: dt.date | None = None


def grant(s: Session, g: Grant) -> StaffAuthorisation:
    """Add a cell to the authorisation matrix (``may_sign`` also puts the person on the signatory list)."""
    user = _user(s, g.username)
    method = get_by_code(s, Method, g.method_code, field="method_code")
    inst = get_by_code(s, Instrument, g.instrument_code, field="instrument_code") if g.instrument_code else None
    ordered(g.valid_from, g.valid_until, "valid_from", "valid_until")
    row = StaffAuthorisation(user_id=user.id, method_id=method.id, instrument_id=inst.id if inst else None,
                             may_test=g.may_test, may_review=g.may_review, may_sign=g.may_sign,
                             valid_from=g.valid_from, valid_until=g.valid_until, granted_by=text(g.granted_by, "granted_by"))
    s.add(row)
    s.info.pop(_MEMO, None)
    if g.may_sign and s.execute(select(MethodSignatory.id).where(
            MethodSignatory.user_id == user.id, MethodSignatory.method_id == method.id)).first() is None:
        s.add(MethodSignatory(user_id=user.id, method_id=method.id))
    s.flush()
    return row


#: Session.info key of the matrix answers already looked up in this unit of work: a batch of 1,000 readings
#: or approvals asks the same few questions 1,000 times. :func:`grant`, the matrix's one writer, clears it.
_MEMO = "staff_matrix_memo"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(s: Session) -> None:
    """The memo lives for one transaction (a session kept across commits asks the database again)."""
    s.info.pop(_MEMO, None)


def _memo(s: Session) -> dict[object, bool]:
    memo: dict[object, bool] = s.info.setdefault(_MEMO, {})
    return memo


def in_force(s: Session) -> bool:
    memo = _memo(s)
    if "in_force" not in memo:
        memo["in_force"] = s.execute(select(StaffAuthorisation.id).limit(1)).first() is not None
    return memo["in_force"]


def allowed(s: Session, user_id: int, method_id: int, action: str, *, instrument_id: int | None = None,
            on: dt.date | None = None) -> bool:
    on = on or utcnow().date()
    key = (user_id, method_id, action, instrument_id, on)
    memo = _memo(s)
    if key not in memo:
        memo[key] = _allowed(s, user_id, method_id, action, instrument_id, on)
    return memo[key]


def _allowed(s: Session, user_id: int, method_id: int, action: str, instrument_id: int | None,
             on: dt.date) -> bool:
    col = {"test": StaffAuthorisation.may_test, "review": StaffAuthorisation.may_review,
           "sign": StaffAuthorisation.may_sign}[action]
    q = select(StaffAuthorisation.id).where(
        StaffAuthorisation.user_id == user_id, StaffAuthorisation.method_id == method_id, col.is_(True),
        StaffAuthorisation.valid_from <= on,
        or_(StaffAuthorisation.valid_until.is_(None), StaffAuthorisation.valid_until >= on))
    if instrument_id is not None:
        q = q.where(or_(StaffAuthorisation.instrument_id.is_(None), StaffAuthorisation.instrument_id == instrument_id))
    return s.execute(q.limit(1)).first() is not None


def require(s: Session, user: User, method: Method, action: str, *, instrument_id: int | None = None,
            on: dt.date | None = None, what: str = "") -> None:
    """Refuse (403 ``staff.not_authorised``) when the matrix is in force and grants ``action`` on
    ``method`` to nobody but others."""
    if not in_force(s) or allowed(s, user.id, method.id, action, instrument_id=instrument_id, on=on):
        return
    raise Forbidden(f"{what + ': ' if what else ''}{user.username} is not authorised to {action} method {method.code} "
                    f"on {on or utcnow().date()} (authorisation matrix)", field="username", code="staff.not_authorised")


def matrix(s: Session, *, on: dt.date | None = None) -> list[dict[str, object]]:
    """The matrix as rows (person, method, instrument, may_*, validity, valid today)."""
    on = on or utcnow().date()
    rows = s.execute(select(StaffAuthorisation, User.username, Method.code)
                     .join(User, User.id == StaffAuthorisation.user_id)
                     .join(Method, Method.id == StaffAuthorisation.method_id)
                     .order_by(User.username, Method.code, StaffAuthorisation.id)).all()
    out = []
    for a, username, method_code in rows:
        inst = s.get(Instrument, a.instrument_id) if a.instrument_id else None
        out.append({"id": a.id, "username": username, "method": method_code, "instrument": inst.code if inst else None,
                    "may_test": a.may_test, "may_review": a.may_review, "may_sign": a.may_sign,
                    "valid_from": a.valid_from, "valid_until": a.valid_until,
                    "valid_today": a.valid_from <= on and (a.valid_until is None or a.valid_until >= on)})
    return out


def add_training(s: Session, *, username: str, kind: str, title: str, completed_on: dt.date, outcome: str,
                 assessor: str = "", method_code: str | None = None, note: str = "") -> TrainingRecord:
    user = _user(s, username)
    method = get_by_code(s, Method, method_code, field="method_code") if method_code else None
    if completed_on > utcnow().date():
        raise InvalidInput(f"completed_on {completed_on} is in the future", field="completed_on",
                           code="quality.dates_out_of_order")
    row = TrainingRecord(user_id=user.id, kind=choice(TrainingKind, kind, "kind"), title=text(title, "title"),
                         method_id=method.id if method else None, completed_on=completed_on,
                         outcome=choice(CheckOutcome, outcome, "outcome"), assessor=assessor.strip(), note=note.strip())
    s.add(row)
    s.flush()
    return row


def training_of(s: Session, username: str) -> list[TrainingRecord]:
    user = _user(s, username)
    return list(s.execute(select(TrainingRecord).where(TrainingRecord.user_id == user.id)
                          .order_by(TrainingRecord.completed_on, TrainingRecord.id)).scalars())


def require_for_result(s: Session, user: User, result: Result, action: str) -> None:
    """:func:`require` for the method (and the batch's instrument) of ``result`` (sign-off calls this)."""
    analysis = result.analysis
    batch = s.get(Batch, analysis.batch_id) if analysis.batch_id else None
    require(s, user, analysis.method, action, instrument_id=batch.instrument_id if batch else None,
            what=f"result {result.id}")


def require_attribution(s: Session, analyst_id: int | None, analysis: Analysis, instrument_id: int | None) -> None:
    """A result made from an instrument's reading and attributed to ``analyst_id``: the analyst must be
    authorised to test by the method on that instrument (acquisition → results; sign-off checks again)."""
    if analyst_id is None or not in_force(s):
        return
    user = s.get(User, analyst_id)
    if user is not None:
        require(s, user, analysis.method, "test", instrument_id=instrument_id, what=f"analysis {analysis.id}")
