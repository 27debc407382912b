"""`lims serve` stays small (issue 17: ≤ 150 MB after use): building the web app does not load numpy
(13 MB; the fitting and PT statistics load with the first curve, chromatogram or round scored) nor Alembic
(10 MB; the migration check reads the version table and the migration files' text), nor reportlab and
Pillow (7 MB; charts and PDFs load them) or cryptography (6 MB; with the lab key)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "scipy", "alembic", "reportlab", "PIL", "cryptography")


def test_building_the_web_app_loads_no_numeric_or_migration_library():
    code = ("import sys, api.app; api.app.create_app(); "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
