"""`lims audit verify` on a large trail (issue 11: it must stay usable at 600k events; streamed, not loaded).

Writes N events (9 in 10 to a table verify does not replay, 1 in 10 to a covered one) into a fresh database and
times verify_database. Usage: python bench/bench_audit_verify.py [URL] [N]  (default a SQLite file, 600000).
Measured 2026-12-06 on the shared 2-core box under load ≈ 8.8: chain walk 19.5 s (the ORM walk before issue 11:
59 s), whole verify 17.6–22.8 s, max RSS 140 MB. The replayed rows do not exist, so verify ends BROKEN naming
them — the cost of the full pass is what is measured.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time

from sqlalchemy.orm import Session

from lims.db.audit import append_events_on
from lims.db.engine import make_engine
from lims.db.migrate import upgrade
from lims.db.verify import verify_database


def main() -> None:
    # never the default database: an empty or missing URL is a fresh file in a temporary folder
    url = (sys.argv[1] if len(sys.argv) > 1 else "") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 600_000
    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    for start in range(0, n, 10_000):
        with engine.begin() as c:
            append_events_on(c, [("create", "pt_item_measurement" if i % 10 else "producer", str(i), None,
                                  {"id": i, "value": 1.234, "name": "x" * 40})
                                 for i in range(start, min(n, start + 10_000))], actor="bench", reason="")
    print(f"written {n} events in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    with Session(engine) as s:
        report = verify_database(s)
    print(f"verify {time.perf_counter() - t:.1f} s; max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB;"
          f" {report.audit_events} events; {report.message[:100]}")


if __name__ == "__main__":
    main()
