"""Proficiency testing (能力验证) in the LIMS: rounds as provider, participation, charts, PDF reports.

Statistics come from :mod:`proficiency` (ISO 13528:2022); this package owns persistence and workflow.

- :mod:`lims.pt.provider`: schemes, rounds, participants, homogeneity/stability, submissions, scoring.
- :mod:`lims.pt.submissions`: one validated row type for web form, JSON and CSV.
- :mod:`lims.pt.participant`: rounds of other providers, scores over time, nonconformities.
- :mod:`lims.pt.charts`: z-score bar chart and histogram/kernel density as Drawing, SVG, PNG.
- :mod:`lims.pt.reports`: participant and summary PDFs in zh-CN.
"""
