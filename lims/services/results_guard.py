"""One result at a time per analysis: while an analysis has a current result (to be reviewed, reviewed) or a
certified one (certified, reported), no path may make another — quantitation, manual entry, readings
attached from an instrument (screening runs, ASTM), or putting the analysis into a new batch. A correction
of a certified result goes through amendment only (lims.services.signoff.amend_result: a new version naming
the one it supersedes); an unreleased result is rejected first (re-test). Issue 11: a second, unlinked
result of a certified analysis was printed beside the first on the amended report and sent upstream.

The rule lives here; each path calls :func:`refuse_second_result` (one analysis or a list) or selects its
analyses with :func:`without_current_result` (bulk reading attachment, where such a reading stays
unmatched and is named).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lims.db.models import Analysis, Result
from lims.services.errors import Conflict
from lims.vocabulary import ResultStatus

#: Statuses of a result that stands: while one exists, the analysis takes no new result.
STANDING = (ResultStatus.TO_BE_REVIEWED, ResultStatus.REVIEWED, ResultStatus.CERTIFIED, ResultStatus.REPORTED)


def standing_results(s: Session, analysis_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """{analysis id: (result id, status)} of the analyses that have a standing result (one query)."""
    ids = sorted(set(analysis_ids))
    if not ids:
        return {}
    rows = s.execute(select(Result.analysis_id, Result.id, Result.status).where(
        Result.analysis_id.in_(ids), Result.status.in_([str(x) for x in STANDING])).order_by(Result.id)).all()
    return {int(a): (int(r), str(st)) for a, r, st in rows}


def refuse_second_result(s: Session, analysis_ids: Iterable[int], *, field: str = "analysis_id") -> None:
    """Conflict ``result.already_current`` (409) when any of the analyses has a standing result."""
    standing = standing_results(s, analysis_ids)
    if standing:
        aid = min(standing)
        rid, status = standing[aid]
        raise Conflict(f"analysis {aid} already has result {rid} ({status}); no second result is made — correct "
                       "a certified result by amendment, or reject an unreleased one first", field=field,
                       code="result.already_current")


def without_current_result() -> Any:
    """A WHERE clause on :class:`Analysis`: the analysis has no standing result."""
    return ~exists(select(Result.id).where(Result.analysis_id == Analysis.id,
                                          Result.status.in_([str(x) for x in STANDING])))
