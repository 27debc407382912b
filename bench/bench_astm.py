"""ASTM decode throughput: this project's codec vs python-astm (PyPI ``astm-2025``) on the same corpus.

Corpus: 10,000 generated messages (H, P, O, 3 × R, L; every fifth R value long enough to need ETB
continuation frames), framed per LIS01-A2. Both sides do the same work per message: verify every frame's
checksum, join continuation frames, and split records into fields (python-astm: ``join`` + ``decode_message``;
ours: ``parse_frame`` + ``parse_records``). Run: ``.venv/bin/python bench/bench_astm.py``.
"""

from __future__ import annotations

import random
import time

from astm import codec as astm_codec

from drivers.codecs.astm.capture import decode_capture
from drivers.codecs.astm.frames import build_frames, parse_frame
from drivers.codecs.astm.records import parse_records

N_MESSAGES = 10_000
ANALYTES = ["chlorpyrifos", "dimethoate", "omethoate", "carbofuran", "phorate", "methamidophos"]


def corpus(seed: int = 20240520) -> list[list[bytes]]:
    rng = random.Random(seed)
    messages = []
    for m in range(N_MESSAGES):
        records = [b"H|\\^&|||GC-2030^Shimadzu^1.0|||||||P|1|20240520103500", b"P|1",
                   b"O|1|V2405%05d||^^^OP|R||20240520090000" % m]
        for i in range(3):
            value = b"%.4f" % rng.uniform(0, 1) if (m + i) % 5 else b"9" * 300
            records.append(b"R|%d|^^^%s|%s|mg/kg||N||F||||20240520103000|GC01" % (
                i + 1, rng.choice(ANALYTES).encode(), value))
        records.append(b"L|1|N")
        messages.append(build_frames(records))
    return messages


def ours(messages: list[list[bytes]]) -> int:
    count = 0
    for frames in messages:
        count += len(parse_records(b"".join([parse_frame(raw).text for raw in frames]))[0])
    return count


def theirs(messages: list[list[bytes]]) -> int:
    count = 0
    join, decode_message = astm_codec.join, astm_codec.decode_message
    for frames in messages:
        chunk: list[bytes] = []
        for raw in frames:
            chunk.append(raw)
            if raw[-5] == 0x03:  # ETX: the record is complete
                message = join(chunk) if len(chunk) > 1 else raw
                count += len(decode_message(message, "latin-1")[1])
                chunk = []
    return count


def best_of(fn, messages, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(messages)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    messages = corpus()
    assert ours(messages) == theirs(messages) == N_MESSAGES * 7
    # interleaved repeats, best of each: a busy machine slows both sides alike
    t_ours = t_theirs = float("inf")
    for _ in range(5):
        t_ours = min(t_ours, best_of(ours, messages, 1))
        t_theirs = min(t_theirs, best_of(theirs, messages, 1))
    capture = b"".join(b"\x05\x06" + b"".join(f + b"\x06" for f in frames) + b"\x04" for frames in messages)
    t_capture = best_of(lambda _: decode_capture(capture), None)
    print(f"corpus: {N_MESSAGES} messages, {sum(len(f) for f in messages)} frames, {len(capture)} bytes")
    print(f"python-astm (astm-2025) decode: {t_theirs:.3f} s  ({N_MESSAGES / t_theirs:,.0f} messages/s)")
    print(f"drivers.codecs.astm decode:     {t_ours:.3f} s  ({N_MESSAGES / t_ours:,.0f} messages/s)")
    print(f"ratio (ours vs python-astm): {t_theirs / t_ours:.2f}x faster")
    print(f"(for reference) full capture decode incl. link bytes, FN checks and result extraction: "
          f"{t_capture:.3f} s ({N_MESSAGES / t_capture:,.0f} messages/s)")


if __name__ == "__main__":
    main()
