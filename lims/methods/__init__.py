"""The lab's analysis methods as a CSV (``lims method import``): :mod:`lims.methods.csv_import`; the
example file ``example_methods.csv`` holds the demo's three methods as a template."""

from lims.methods.csv_import import (
    COLUMNS,
    EXAMPLE_CSV,
    MethodCsvReport,
    RejectedMethodRow,
    parse_methods_csv,
    read_methods_csv,
    unknown_scope_rows,
)

__all__ = ["COLUMNS", "EXAMPLE_CSV", "MethodCsvReport", "RejectedMethodRow", "parse_methods_csv", "read_methods_csv",
           "unknown_scope_rows"]
