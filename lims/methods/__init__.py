"""The lab's analysis methods as a CSV (``lims method import``): :mod:`lims.methods.csv_import`; the
example file ``example_methods.csv`` holds the demo's three methods as a template. The lab's analytes as a
CSV (``lims analyte import``, before the methods whose scope names them): :mod:`lims.methods.analytes_csv`,
template ``example_analytes.csv`` (the demo's analyte group OP-CARB)."""

from lims.methods.analytes_csv import (
    ANALYTE_COLUMNS,
    EXAMPLE_ANALYTES_CSV,
    AnalyteCsvReport,
    RejectedAnalyteRow,
    parse_analytes_csv,
    read_analytes_csv,
)
from lims.methods.csv_import import (
    COLUMNS,
    EXAMPLE_CSV,
    MethodCsvReport,
    RejectedMethodRow,
    parse_methods_csv,
    read_methods_csv,
    unknown_scope_rows,
)

__all__ = ["ANALYTE_COLUMNS", "COLUMNS", "EXAMPLE_ANALYTES_CSV", "EXAMPLE_CSV", "AnalyteCsvReport", "MethodCsvReport",
           "RejectedAnalyteRow", "RejectedMethodRow", "parse_analytes_csv", "parse_methods_csv", "read_analytes_csv",
           "read_methods_csv", "unknown_scope_rows"]
