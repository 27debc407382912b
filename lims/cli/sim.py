"""`lims sim NAME [options]` (CONTRACTS.md): run one hardware simulator in the foreground.

The first line on stdout says where the simulator listens — a pty path (open it like
``/dev/ttyUSB0``), ``socket://HOST:PORT`` for a serial device behind TCP, ``tcp://HOST:PORT`` for
Modbus TCP — then it runs until Ctrl-C. ``lims sim chrom`` writes its files, prints them with
their ground truth as one JSON document and exits. Wire protocols: hardware-sim/PROTOCOLS.md.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

from lims.cli.common import BadInput, emit_json

NAMES = ("enzyme", "binary", "gold", "modbus", "astm", "chrom", "tl310", "ty16")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sim", help="start a hardware simulator (prints where it listens)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=NAMES, help="enzyme (a), binary (b), gold (c), modbus (d), astm (e), chrom, "
                   "tl310 / ty16 (named testers, record download)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a pty pair (default for serial devices)")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve on TCP PORT (0 = any free port)")
    where.add_argument("--rtu", action="store_true", help="modbus: Modbus RTU on a pty instead of TCP")
    p.add_argument("--host", default="127.0.0.1", help="TCP bind address (default 127.0.0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of values and faults (default 0)")
    p.add_argument("--count", type=int, default=8, help="channels / strips / messages per run (default 8)")
    p.add_argument("--runs", type=int, default=1000, help="enzyme/binary: runs to send (default 1000)")
    p.add_argument("--interval", type=float, default=30.0,
                   help="seconds between runs / records / messages (default 30)")
    p.add_argument("--measure-time", type=float, default=5.0, help="modbus: seconds a measurement takes")
    p.add_argument("--lamp-fault", action="store_true", help="modbus: report a lamp fault")
    p.add_argument("--reply-timeout", type=float, default=15.0, help="astm/gold: seconds to wait for ACK")
    p.add_argument("--busy-retry", type=float, default=10.0, help="astm: seconds before re-sending ENQ")
    p.add_argument("--out", type=Path, default=Path("."), help="chrom: output folder")
    p.add_argument("--stem", default="chrom", help="chrom: file name stem")
    p.add_argument("--noise", type=float, default=0.01, help="chrom: noise standard deviation")
    f = p.add_argument_group("faults")
    f.add_argument("--bit-error-rate", type=float, default=0.0, help="per-bit error probability")
    f.add_argument("--drop-byte-rate", type=float, default=0.0, help="per-byte loss probability")
    f.add_argument("--truncate-frame-rate", type=float, default=0.0, help="per-frame truncation probability")
    f.add_argument("--disconnect-after-bytes", type=int, default=None, help="drop the link once after N bytes")
    f.add_argument("--nak-storm", type=int, default=0, help="receiver NAKs per frame (ASTM receiver role)")
    f.add_argument("--slow-byte-delay", type=float, default=0.0, help="seconds after each byte")
    f.add_argument("--wrong-frame-numbers", type=float, default=0.0, help="ASTM: per-frame probability")
    f.add_argument("--garbage", type=int, default=0, help="random bytes on the idle line before each session")
    f.add_argument("--reboot-after", type=int, default=None, help="reboot once after N messages")
    f.add_argument("--malformed", default="", help="comma-separated indexes of lines/frames to corrupt")
    p.set_defaults(handler=run)


def _faults(args: argparse.Namespace) -> Any:
    from hardware_sim.faults import Faults

    try:
        malformed = tuple(int(x) for x in args.malformed.split(",") if x.strip())
    except ValueError as exc:
        raise BadInput(f"not a list of integers: {args.malformed!r}", field="--malformed") from exc
    try:
        return Faults(bit_error_rate=args.bit_error_rate, drop_byte_rate=args.drop_byte_rate,
                      truncate_frame_rate=args.truncate_frame_rate,
                      disconnect_after_bytes=args.disconnect_after_bytes, nak_storm=args.nak_storm,
                      slow_byte_delay_s=args.slow_byte_delay, wrong_frame_numbers=args.wrong_frame_numbers,
                      garbage_between_sessions=args.garbage, reboot_after_messages=args.reboot_after,
                      malformed_lines=malformed, seed=args.seed)
    except ValueError as exc:
        raise BadInput(str(exc), field="faults") from exc


def _announce(text: str) -> None:
    print(text, flush=True)


def _serial_sim(sim: Any, args: argparse.Namespace) -> int:
    if args.tcp is not None:
        port = sim.start_tcp(args.tcp, args.host)
        _announce(f"socket://{args.host}:{port}")
    else:
        _announce(sim.start_pty())
    return _foreground(sim)


def _foreground(sim: Any) -> int:
    from hardware_sim.base import run_until_interrupted

    run_until_interrupted(sim, poll=lambda: bool(sim.wait(0.2)))
    if getattr(sim, "error", None) is not None:
        print(f"lims sim: simulator failed: {sim.error}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    if args.count < 1 or args.count > 16:
        raise BadInput("must be 1..16", field="--count")
    faults = _faults(args)
    rng = random.Random(args.seed)
    try:
        if args.name == "enzyme":
            from hardware_sim.enzyme import EnzymeTesterSim, SimSample

            samples = [SimSample(ch, f"S{ch:03d}", round(rng.uniform(0, 80), 1)) for ch in range(1, args.count + 1)]
            return _serial_sim(EnzymeTesterSim(samples, seed=args.seed, faults=faults, runs=args.runs,
                                               run_interval_s=args.interval), args)
        if args.name == "binary":
            from hardware_sim.binary_tester import BinaryTesterSim
            from hardware_sim.enzyme import SimSample

            samples = [SimSample(ch, f"S{ch:03d}", round(rng.uniform(0, 80), 1)) for ch in range(1, args.count + 1)]
            return _serial_sim(BinaryTesterSim(samples, seed=args.seed, faults=faults, runs=args.runs), args)
        if args.name == "gold":
            from hardware_sim.gold import GoldReaderSim, GoldStrip

            strips = [GoldStrip(k % 8 + 1, f"S{k + 1:03d}", "CLEN", rng.randrange(200, 4000), rng.randrange(200, 4000))
                      for k in range(args.count)]
            return _serial_sim(GoldReaderSim(strips, seed=args.seed, faults=faults, ack_timeout_s=args.reply_timeout,
                                             record_delay_s=args.interval), args)
        if args.name == "astm":
            from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim

            messages = [AstmMessage(f"S{k + 1:03d}", (AstmResult("CHLORPYRIFOS", f"{rng.uniform(0, 0.5):.3f}"),
                                                      AstmResult("DICHLORVOS", "ND")))
                        for k in range(args.count)]
            return _serial_sim(AstmSenderSim(messages, seed=args.seed, faults=faults,
                                             reply_timeout_s=args.reply_timeout, busy_retry_s=args.busy_retry,
                                             message_interval_s=args.interval), args)
        if args.name == "modbus":
            return _modbus(args, faults)
        if args.name in ("tl310", "ty16"):
            return _serial_sim(_download_sim(args, faults, rng), args)
        return _chrom(args)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


def _download_sim(args: argparse.Namespace, faults: Any, rng: random.Random) -> Any:
    """The TL310 (``--count`` stored records, every fourth one NA) or TY16 (``--count`` slots in each of two
    groups) simulator (hardware_sim.rapid_downloads)."""
    from datetime import datetime

    from hardware_sim.rapid_downloads import TL310Record, TL310Sim, TY16Group, TY16Sim

    now = datetime.now().replace(microsecond=0)
    if args.name == "tl310":
        records = [TL310Record(k % 16 + 1, now, None if k % 4 == 3 else round(rng.uniform(0, 80), 1))
                   for k in range(args.count)]
        return TL310Sim(records, seed=args.seed, faults=faults)
    groups = [TY16Group(now, tuple(round(rng.uniform(0, 80), 2) for _ in range(min(args.count, 8))))
              for _ in range(2)]
    return TY16Sim(groups, seed=args.seed, faults=faults)


def _modbus(args: argparse.Namespace, faults: Any) -> int:
    from hardware_sim.base import run_until_interrupted
    from hardware_sim.modbus_analyzer import ModbusAnalyzerSim

    sim = ModbusAnalyzerSim(measure_time_s=args.measure_time, lamp_fault=args.lamp_fault, seed=args.seed,
                            faults=faults)
    if args.rtu or args.pty:
        _announce(sim.start_rtu())
    else:
        port = sim.start_tcp(5020 if args.tcp is None else args.tcp, args.host)
        _announce(f"tcp://{args.host}:{port}")
    run_until_interrupted(sim)
    return 0


def _chrom(args: argparse.Namespace) -> int:
    from hardware_sim.chromatogram import DEFAULT_PEAKS, ChromatogramSpec, write_all

    files = write_all(ChromatogramSpec(DEFAULT_PEAKS, noise_sd=args.noise, seed=args.seed), args.out, args.stem)
    emit_json({
        "files": {"netcdf": str(files.netcdf), "labsolutions": str(files.labsolutions), "csv": str(files.csv)},
        "area_unit": "signal*s",
        "peaks": [{"name": p.name, "apex_time_min": p.apex_time_min, "area": p.area, "height": p.height}
                  for p in files.truth],
    })
    return 0
