"""The home page: where the day's work stands (samples and results by status, instruments connected,
the latest reports)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.db.models import Instrument, Result, Sample
from lims.services.views.reports import latest_reports


def dashboard(s: Session) -> dict[str, Any]:
    def counts(col: Any) -> dict[str, int]:
        return {k: n for k, n in s.execute(select(col, func.count()).group_by(col)).all()}
    instruments = s.execute(select(Instrument.connected, func.count()).group_by(Instrument.connected)).all()
    return {"samples": counts(Sample.status), "results": counts(Result.status),
            "instruments": {bool(c): n for c, n in instruments}, "reports": latest_reports(s)}
