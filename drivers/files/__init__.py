"""Chromatograph export-file readers (pure: stdlib, numpy, scipy, rainbow-api; no lims/api imports).

``read_chromatogram_file(path)`` detects the format and returns a ``ChromatogramFile`` with the
traces (time in minutes, signal), the data system's own peak tables (each linked to its trace), and
the sample ID/name, injection time and method the file names:

- AIA/ANDI chromatography netCDF (ASTM E1947), regular or ``raw_data_retention`` timing; ANDI-MS
  (ASTM E2077) as its total-ion chromatogram (``andi.py``);
- Agilent ChemStation/OpenLab binary ``.ch`` and ``.D`` folders (rainbow-api), ``Report.TXT`` and
  ``REPORT0N.CSV`` peak tables (``chemstation.py``);
- Shimadzu LabSolutions ASCII, every detector and its peak table (``labsolutions.py``);
- Thermo Chromeleon 6.8/7 text exports, Waters Empower ``.arw``, MSD/MassHunter CSV
  (``vendor_text.py``);
- plain CSV ``time,signal`` (time in minutes).

Text in UTF-8, UTF-16, GB18030/Big5 (when unambiguous) or Windows-1252, any line ends (``text.py``).
Anything unreadable is a :class:`ChromatogramFileError` naming the file and line/offset/field.
"""

from drivers.files.errors import ChromatogramFileError
from drivers.files.model import ChromatogramFile, ExportedPeak, PeakTable, Trace
from drivers.files.readers import read_chromatogram_bytes, read_chromatogram_file

__all__ = ["ChromatogramFile", "ChromatogramFileError", "ExportedPeak", "PeakTable", "Trace",
           "read_chromatogram_bytes", "read_chromatogram_file"]
