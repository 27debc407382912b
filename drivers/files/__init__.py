"""Chromatograph export-file readers (pure: stdlib, numpy, scipy; no lims/api imports).

``read_chromatogram_file(path)`` detects the format and returns a ``ChromatogramFile`` with
the traces (time in minutes, signal) and/or peak tables it holds:

- AIA/ANDI chromatography netCDF (ASTM E1947): ``ordinate_values``,
  ``actual_sampling_interval``, ``actual_delay_time`` (seconds), peak variables;
- Agilent ChemStation ``Report.TXT`` and ``REPORT0N.CSV`` (UTF-16 with BOM) peak tables;
- Shimadzu LabSolutions ASCII export (``[LC Chromatogram(...)]`` / ``[GC Chromatogram(...)]``);
- plain CSV ``time,signal`` (time in minutes).
"""

from drivers.files.errors import ChromatogramFileError
from drivers.files.model import ChromatogramFile, ExportedPeak, PeakTable, Trace
from drivers.files.readers import read_chromatogram_bytes, read_chromatogram_file

__all__ = ["ChromatogramFile", "ChromatogramFileError", "ExportedPeak", "PeakTable", "Trace",
           "read_chromatogram_bytes", "read_chromatogram_file"]
