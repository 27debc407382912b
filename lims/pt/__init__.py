"""Proficiency testing (能力验证) in the LIMS: rounds as provider, participation, charts, PDF reports.

Statistics come from :mod:`proficiency` (ISO 13528:2022); this package owns persistence and workflow.

- :mod:`lims.pt.provider`: schemes, rounds, participants, homogeneity/stability, submissions.
- :mod:`lims.pt.scoring`: assigned values, σ_pt, scores, detections and combined scores of a closed round.
- :mod:`lims.pt.submissions`: one validated row type for web form, JSON and CSV.
- :mod:`lims.pt.participant`: rounds of other providers, scores over time, nonconformities.
- :mod:`lims.pt.charts`: z-score bar chart, histogram/kernel density and z trend as Drawing, SVG, PNG.
- :mod:`lims.pt.views`: read models (plain dicts) for the API, the web UI and the reports.
- :mod:`lims.pt.reports`: participant and summary PDFs in zh-CN.
"""
