"""`lims demo`: one realistic lab day on the embedded SQLite database and the simulated instruments.

The walking skeleton through every layer: samples are registered; a simulated enzyme-inhibition
tester on a pty pair streams its run over the real serial transport (one line is injected
malformed); raw bytes are committed before parsing; calibration/ computes inhibition % and the
screening call; two different users review and approve with e-signatures; PDF reports are issued;
certified results go through the outbox, signed with Ed25519, to a hub started on loopback.

This package is the only part of ``lims`` that imports the simulators (``hardware_sim``), besides
``lims.cli.sim``; the import contract in ``pyproject.toml`` keeps it so.

- :mod:`.reference` — the demo lab's reference data, accounts (the one place with known passwords) and samples;
- :mod:`.instruments` — the enzyme tester on a pty, the Modbus photometer and the ASTM LC-MS/MS data system;
- :mod:`.gc` — the confirmatory GC batch from AIA/ANDI exports, with its standard curve and QC;
- :mod:`.pt_round` — a provincial centre's PT round, scored and reported;
- :mod:`.loopback` — the upstream hub on loopback;
- :mod:`.day` — the day in order, and its summary.
"""

from lims.demo.batchqc import qc_passed_batch
from lims.demo.day import DemoDay, run_demo
from lims.demo.instruments import run_enzyme_tester
from lims.demo.reference import (
    DEMO_SAMPLES,
    DEMO_USERS,
    LAB_CODE,
    PASSWORDS,
    register_samples,
    seed_reference,
)

__all__ = [
    "DEMO_SAMPLES",
    "DEMO_USERS",
    "LAB_CODE",
    "PASSWORDS",
    "DemoDay",
    "register_samples",
    "run_demo",
    "qc_passed_batch",
    "run_enzyme_tester",
    "seed_reference",
]
