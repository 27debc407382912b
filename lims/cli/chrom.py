"""`lims chrom integrate FILE [--channel NAME] --json` (CONTRACTS.md, Chromatograms)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from calibration.errors import CalibrationError
from lims.cli.common import EXIT_OK, BadInput, emit_json

if TYPE_CHECKING:  # the file readers (numpy) load when the command runs, not for `--help` (issue 17)
    from drivers.files import ChromatogramFile, Trace


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("chrom", help="chromatogram files / 色谱图")
    csub = p.add_subparsers(dest="chrom_command", metavar="SUBCOMMAND")
    i = csub.add_parser("integrate", help="baseline-correct, detect and integrate peaks (or return a peak table)")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--channel", metavar="NAME", help="detector channel / signal (default: the first)")
    i.add_argument("--json", action="store_true")
    i.set_defaults(handler=run_integrate)


def _pick(items: list[Any], channel: str | None, file: str) -> Any:
    if channel is None:
        return items[0]
    for it in items:
        if it.channel == channel or channel.lower() in it.channel.lower():
            return it
    names = ", ".join(it.channel for it in items)
    raise BadInput(f"no channel {channel!r} (file has: {names})", file=file, field="--channel")


def run_integrate(args: argparse.Namespace) -> int:
    from calibration.chromatogram import integrate_chromatogram
    from drivers.files import ChromatogramFileError, read_chromatogram_file

    try:
        cf = read_chromatogram_file(args.file)
    except ChromatogramFileError as exc:
        line = exc.line if exc.line is not None else None
        detail = exc.detail + (f" (byte offset {exc.byte_offset})" if exc.byte_offset is not None else "")
        raise BadInput(detail, file=exc.file, line=line, field=exc.field) from None
    doc: dict[str, Any]
    if cf.traces:
        tr = _pick(list(cf.traces), args.channel, args.file)
        try:
            res = integrate_chromatogram(tr.times_min, tr.signal)
        except CalibrationError as exc:
            raise BadInput(str(exc), file=args.file, field="signal") from None
        peaks = [{"retention_time_min": p.retention_time_min, "area": p.area, "height": p.height,
                  "start_min": p.start_min, "end_min": p.end_min, "baseline_code": p.baseline_code}
                 for p in res.peaks]
        doc = {"source_format": cf.source_format, "channel": tr.channel, "points": int(tr.times_min.size),
               "units": tr.units, "noise_sd": res.noise_sd, "peaks": peaks, "sample": _sample(cf),
               "vendor_comparison": _vendor(tr, [(p.retention_time_min, p.area) for p in res.peaks])}
    else:
        tab = _pick(list(cf.peak_tables), args.channel, args.file)
        peaks = [{"retention_time_min": p.retention_time_min, "area": p.area, "height": p.height,
                  "start_min": p.start_min, "end_min": p.end_min, "name": p.name, "peak_type": p.peak_type}
                 for p in tab.peaks]
        doc = {"source_format": cf.source_format, "channel": tab.channel, "points": None,
               "area_units": tab.area_units, "peaks": peaks, "sample": _sample(cf)}
    if args.json:
        emit_json(doc)
    else:
        print(f"{doc['source_format']} · {doc['channel']} · {len(doc['peaks'])} peaks")
        for p in doc["peaks"]:
            print(f"  RT {p['retention_time_min']:.3f} min  area {p['area']}  height {p['height']}")
        vc = doc.get("vendor_comparison")
        if vc:
            print(f"  data system's peak table: {len(vc['peaks'])} peaks; major peaks that disagree: "
                  f"{sum(a['flagged'] for a in vc['agreement'])}")
    return EXIT_OK


def _sample(cf: ChromatogramFile) -> dict[str, str | None]:
    return {"sample_id": cf.sample_id, "sample_name": cf.sample_name, "injected_at": cf.injected_at,
            "method": cf.method}


def _vendor(tr: Trace, ours: list[tuple[float, float]]) -> dict[str, Any] | None:
    """The data system's own peak table of this trace (areas × ``area_factor`` = trace units × s) and
    its agreement with our integration; None when the export carries no table for the trace."""
    from drivers.files.agreement import compare_with_vendor

    tab = tr.peak_table
    if tab is None:
        return None
    rows = [{"retention_time_min": p.retention_time_min, "area": p.area, "height": p.height,
             "start_min": p.start_min, "end_min": p.end_min, "name": p.name, "peak_type": p.peak_type}
            for p in tab.peaks]
    agreement = [{"vendor_rt_min": a.vendor_rt_min, "vendor_area": a.vendor_area, "rt_min": a.rt_min,
                  "area": a.area, "area_difference": a.area_difference, "rt_difference_min": a.rt_difference_min,
                  "major": a.major, "flagged": a.flagged} for a in compare_with_vendor(ours, tab)]
    return {"channel": tab.channel, "area_units": tab.area_units, "area_factor": tab.area_factor,
            "peaks": rows, "agreement": agreement}
