"""Limits (MRL table, banned substances) and conformity decisions — pure, no database code.

- ``csv_import``: parse and validate the lab-maintained limit CSV; the cited starter table.
- ``decision``: decision rules per ISO/IEC 17025:2017 7.8.6 and ILAC-G8:09/2019.
"""

from lims.limits.csv_import import (
    ALL_COLUMNS,
    REQUIRED_COLUMNS,
    ImportReport,
    LimitRow,
    LimitsCsvError,
    LimitType,
    RejectedRow,
    cas_is_valid,
    load_starter_table,
    parse_limits_csv,
    read_limits_csv,
)
from lims.limits.decision import (
    SANTE_DEFAULT_RELATIVE_U,
    Decision,
    DecisionInputError,
    DecisionRule,
    Verdict,
    evaluate,
)

__all__ = [
    "ALL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SANTE_DEFAULT_RELATIVE_U",
    "Decision",
    "DecisionInputError",
    "DecisionRule",
    "ImportReport",
    "LimitRow",
    "LimitType",
    "LimitsCsvError",
    "RejectedRow",
    "Verdict",
    "cas_is_valid",
    "evaluate",
    "load_starter_table",
    "parse_limits_csv",
    "read_limits_csv",
]
