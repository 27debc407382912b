"""One child process timed as a user runs it: wall seconds, peak RSS and CPU seconds from GNU time."""

from __future__ import annotations

import subprocess
import time

TIME = "/usr/bin/time"


def run_once(argv: list[str], out_path: str) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of one child writing stdout to
    ``out_path`` (GNU time ``%M %U %S``); it must exit 0."""
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%M %U %S", *argv], stdout=out, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    rss, user, system = done.stderr.strip().splitlines()[-1].split()
    return elapsed, int(rss) / 1024.0, float(user) + float(system)
