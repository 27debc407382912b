"""A confirmatory batch whose QC passed, for data entered by hand in tests and examples: a confirmatory
method's result needs its batch QC (issue 11), so a manual result goes into such a batch first."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lims.db.models import Batch
from lims.services import batches


def qc_passed_batch(s: Session, code: str, method_code: str, analysis_ids: list[int]) -> Batch:
    """A batch of ``analysis_ids`` with one reagent blank (0 against a 0.01 mg/kg reporting limit: passes)
    and its QC evaluated as passed."""
    batch = batches.create_batch(s, code=code, method_code=method_code, instrument_code=None,
                                 analysis_ids=analysis_ids)
    batches.add_qc(s, code, kind="reagent_blank", measured_value=0.0, reporting_limit=0.01)
    outcome = batches.evaluate_batch_qc(s, code)
    assert outcome.passed, outcome.failures
    return batch
