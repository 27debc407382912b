"""`lims astm decode CAPTURE --json`, whole process, against a plain python-astm loop over the same capture.

Capture: 20,000 ENQ … EOT sessions as a serial sniffer records them (receiver's ACK after every frame),
~17 MB, ~100,000 results: H, P, O, 3–7 R records (every 40th R value long enough for ETB continuation
frames), now and then a C record and a second O; about one frame in 500 arrives corrupted (NAK, then
resent) and one in 2,000 is resent after a lost ACK (decoded once).

The peer is ``bench/_astm_peer_loop.py``: python-astm (``astm-2025``) ``make_checksum`` per frame,
``codec.join`` for continuations, ``decode_message`` per record, results from the O and R records, one
``json.dumps``. Both run as their own process N times, each run of ours paired with a peer run just before
it (the machine is shared; its load drifts). Printed: best and median wall time, peak RSS (GNU time
``%M``), the median of the paired ratios peer/ours (the target: ≥ 3×), the median of the paired CPU-time
(user + system) ratios, and a check that both processes
found the same sessions and results (ours must also equal the library path ``decode_capture`` →
``session_document``, byte for byte, on the first run).

    .venv/bin/python bench/bench_astm_decode.py [-n 5] [--sessions 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

from _timed import run_once

from drivers.codecs.astm.frames import build_frames

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
TARGET = 3.0
ANALYTES = [b"chlorpyrifos", b"dimethoate", b"omethoate", b"carbofuran", b"phorate", b"methamidophos",
            b"acephate", b"isocarbophos", b"fenitrothion", b"triazophos", b"cypermethrin", b"cyhalothrin"]


def _records(rng: random.Random, s: int) -> list[bytes]:
    stamp = b"202405%02d%02d%02d00" % (1 + s % 28, 8 + s % 10, s % 60)
    records = [rb"H|\^&|||GC-2030^Shimadzu^2.1|||||LIS||P|1|" + stamp,
               b"P|1||PAT%06d|||Zhang^San||19700101|M" % s]
    for o in range(1 + (s % 9 == 0)):
        records.append(b"O|%d|V24%06d-%d||^^^OP-MULTI|R|%s|%s|||||N||||||||||||F" % (o + 1, s, o, stamp, stamp))
        for r in range(rng.randint(3, 7) - (s % 9 == 0) * 2):
            value = b"%.4f" % rng.uniform(0.0005, 2.0) if rng.random() > 0.025 else b"9" * 300
            records.append(b"R|%d|^^^%s^^%d|%s|mg/kg|0.001^0.5|%s||F||analyst%02d|%s|%s|GC-2030-01" % (
                r + 1, rng.choice(ANALYTES), r, value, rng.choice([b"N", b"N", b"N", b"H"]), s % 12, stamp, stamp))
        if s % 7 == 0:
            records.append(b"C|1|I|peak shoulder, confirm on the second column|G")
    records.append(b"L|1|N")
    return records


def make_capture(sessions: int, seed: int = 20240520) -> bytes:
    rng = random.Random(seed)
    out = bytearray()
    for s in range(sessions):
        out += b"\x05\x06"
        for frame in build_frames(_records(rng, s)):
            roll = rng.random()
            if roll < 0.002:  # corrupted on the line: NAK, resent
                bad = bytearray(frame)
                bad[len(bad) // 2] ^= 0x04
                out += bytes(bad) + b"\x15"
            out += frame + b"\x06"
            if 0.002 <= roll < 0.0025:  # the ACK was lost: resent, decoded once
                out += frame + b"\x06"
        out += b"\x04"
    return bytes(out)




def library_document(capture: bytes) -> bytes:
    """The reference output: the library path, as ``lims astm decode --json`` printed it before issue 17."""
    from drivers.codecs.astm.capture import decode_capture, session_document

    doc = {"sessions": [session_document(s) for s in decode_capture(capture)]}
    return (json.dumps(doc, ensure_ascii=False, allow_nan=False) + "\n").encode()


def same_results(ours: dict, peer: dict) -> bool:  # type: ignore[type-arg]
    keep = ("sender", "frames", "rejected_frames", "results")
    return [{k: s[k] for k in keep} for s in ours["sessions"]] == peer["sessions"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="paired runs (default 5)")
    ap.add_argument("--sessions", type=int, default=20_000)
    args = ap.parse_args()
    lims = [str(VENV_BIN / "lims")] if (VENV_BIN / "lims").exists() else [sys.executable, "-m", "lims.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "capture.bin")
        capture = make_capture(args.sessions)
        Path(cap).write_bytes(capture)
        ours_argv = [*lims, "astm", "decode", cap, "--json"]
        peer_argv = [sys.executable, str(HERE / "_astm_peer_loop.py"), cap]
        runs: dict[str, list[tuple[float, float, float]]] = {"ours": [], "peer": []}
        for i in range(args.n):
            runs["peer"].append(run_once(peer_argv, os.path.join(tmp, "peer.json")))
            runs["ours"].append(run_once(ours_argv, os.path.join(tmp, "ours.json")))
            if i == 0:
                ours_bytes = Path(tmp, "ours.json").read_bytes()
                identical = ours_bytes == library_document(capture)
                ours_doc, peer_doc = json.loads(ours_bytes), json.loads(Path(tmp, "peer.json").read_bytes())
                agree = same_results(ours_doc, peer_doc)
                n_results = sum(len(s["results"]) for s in ours_doc["sessions"])
                n_rejected = sum(s["rejected_frames"] for s in ours_doc["sessions"])
    print(f"capture: {args.sessions} sessions, {len(capture) / 1e6:.1f} MB, {n_results} results, "
          f"{n_rejected} rejected frames; N={args.n} paired runs (peer right before ours)")
    fig = {}
    for key in ("peer", "ours"):
        times = [t for t, _, _ in runs[key]]
        fig[key] = (min(times), statistics.median(times), max(m for _, m, _ in runs[key]))
        label = "python-astm loop (astm-2025)" if key == "peer" else "lims astm decode --json"
        print(f"{label:30} best {fig[key][0]:6.3f} s  median {fig[key][1]:6.3f} s  peak RSS {fig[key][2]:6.1f} MB")
    paired = statistics.median(p[0] / o[0] for p, o in zip(runs["peer"], runs["ours"], strict=True))
    cpu = statistics.median(p[2] / o[2] for p, o in zip(runs["peer"], runs["ours"], strict=True))
    print(f"ratio peer/ours: best {fig['peer'][0] / fig['ours'][0]:.2f}x, median of paired runs {paired:.2f}x "
          f"(target >= {TARGET}x); CPU time (user + system), median of paired runs {cpu:.2f}x")
    print(f"output identical to decode_capture → session_document: {identical}; same sessions and results as "
          f"the peer: {agree}")
    ok = paired >= TARGET and identical and agree
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
