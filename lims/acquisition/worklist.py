"""Channel → sample worklists of multi-channel testers whose wire carries no sample ID
(hardware-sim/PROTOCOLS.md (b): "the host maps channel → sample")."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import csvio
from lims.db.models import Instrument, Reading
from lims.services.lookup import find_by_code

if TYPE_CHECKING:
    from lims.acquisition.config import InstrumentConfig

log = logging.getLogger("lims.acquire")


class WorklistError(ValueError):
    """A channel → sample assignment that cannot be applied; the message names the instrument, run, channel
    (and for a worklist file the file, line and field)."""


@dataclass(frozen=True)
class ChannelAssignment:
    """What :func:`assign_channels` did: readings given a sample code (``assigned``) and readings that
    already carried that code (``unchanged``), as ``(channel, reading id)`` pairs."""

    instrument_code: str
    run_no: str
    assigned: tuple[tuple[int, int], ...]
    unchanged: tuple[tuple[int, int], ...]


def assign_channels(s: Session, instrument_code: str, run_no: str | int, samples: Mapping[int, str], *,
                    source: str = "", reassign: bool = False) -> ChannelAssignment:
    """Attach sample codes to the channel readings of one run of a multi-channel tester whose wire carries
    no sample ID (hardware-sim/PROTOCOLS.md (b): "the host maps channel → sample"): the reading of run
    ``run_no`` on channel ``c`` gets ``sample_code = samples[c]`` (and ``fields["sample_source"] = source``),
    so results attach to the sample by its code like those of instruments that send it.

    Raises :class:`WorklistError` — nothing is changed — for an unknown instrument, a run without readings,
    a channel without exactly one reading in that run, an empty or over-long sample code, or a channel
    already assigned to another sample (unless ``reassign``). A change appends one audit event (readings
    themselves are not audited, :mod:`lims.acquisition`); applying the same mapping again changes nothing.
    """
    run = str(run_no)
    where = f"instrument {instrument_code!r} run {run}"
    inst = find_by_code(s, Instrument, instrument_code)
    if inst is None:
        raise WorklistError(f"no instrument with code {instrument_code!r}")
    readings = s.execute(select(Reading).where(
        Reading.instrument_id == inst.id, Reading.run_no == run, Reading.channel.is_not(None))
        .order_by(Reading.id)).scalars().all()
    if not readings:
        raise WorklistError(f"{where}: no channel readings")
    by_channel: dict[int, list[Reading]] = {}
    for r in readings:
        by_channel.setdefault(int(r.channel), []).append(r)  # type: ignore[arg-type]
    limit = Reading.__table__.c.sample_code.type.length
    plan: list[tuple[int, Reading, str]] = []
    for channel, code in sorted(samples.items()):
        code = str(code).strip()
        if not code or (limit is not None and len(code) > limit):
            raise WorklistError(f"{where} channel {channel}: sample code must be 1-{limit} characters, "
                                f"got {code!r}")
        found = by_channel.get(channel, [])
        if len(found) != 1:
            raise WorklistError(f"{where} channel {channel}: " + (
                "the instrument reported no such channel" if not found else
                f"{len(found)} readings (run number reused?); assign them one by one"))
        reading = found[0]
        if reading.sample_code not in (None, "", code) and not reassign:
            raise WorklistError(f"{where} channel {channel}: already assigned to sample "
                                f"{reading.sample_code!r} (not {code!r}); reassign to change it")
        plan.append((channel, reading, code))
    assigned, unchanged, before, after = [], [], {}, {}
    for channel, reading, code in plan:
        if reading.sample_code == code:
            unchanged.append((channel, reading.id))
            continue
        before[str(channel)], after[str(channel)] = reading.sample_code, code
        reading.sample_code = code
        reading.fields = {**reading.fields, "sample_source": source or "assigned"}
        assigned.append((channel, reading.id))
    if assigned:
        s.info.setdefault("audit_extra", []).append(
            ("update", "reading", f"instrument:{instrument_code}/run:{run}", {"channels": before},
             {"channels": after, "source": source or "assigned"}))
        s.flush()
    return ChannelAssignment(instrument_code, run, tuple(assigned), tuple(unchanged))


def read_worklist(path: Path) -> dict[str, dict[int, str]]:
    """A worklist CSV read by :mod:`lims.csvio` (UTF-8, header ``run_no,channel,sample_code``; ``#`` starts
    a comment line): ``{run_no: {channel: sample_code}}``. :class:`WorklistError` names the file, line and field."""
    need = ("run_no", "channel", "sample_code")
    try:
        table = csvio.CsvTable.from_file(path, comment="#")
    except csvio.CsvError as exc:
        if exc.kind == "empty":
            return {}
        raise WorklistError(f"{path}: cannot read the worklist: {exc.detail}") from None
    missing = table.missing(need)
    if missing:
        raise WorklistError(f"{path}: line {table.header_line}: header lacks {', '.join(missing)} "
                            f"(need {','.join(need)})")
    out: dict[str, dict[int, str]] = {}
    try:
        for row in table.rows(need):
            cells = {h: v.strip() for h, v in row.values.items()}
            run, channel, code = _worklist_row(cells, f"{path}: line {row.line}")
            run_map = out.setdefault(run, {})
            if channel in run_map and run_map[channel] != code:
                raise WorklistError(f"{path}: line {row.line}: run {run} channel {channel} is listed twice")
            run_map[channel] = code
    except csvio.CsvError as exc:
        raise WorklistError(str(exc)) from None
    return out


def _worklist_row(cells: dict[str, str], where: str) -> tuple[str, int, str]:
    """``(run_no, channel, sample_code)`` of one worklist row; :class:`WorklistError` names the field."""
    run = cells["run_no"]
    run = str(int(run)) if run.isdigit() else run  # "0007" is run 7, as the device numbers it
    if not run:
        raise WorklistError(f"{where}: field run_no is empty")
    try:
        channel = int(cells["channel"])
    except ValueError:
        raise WorklistError(f"{where}: field channel is not a whole number: {cells['channel']!r}") from None
    if not cells["sample_code"]:
        raise WorklistError(f"{where}: field sample_code is empty")
    return run, channel, cells["sample_code"]


def apply_worklist(s: Session, cfg: InstrumentConfig, run_no: str, instrument_id: int | None = None) -> tuple[str, int]:
    """Map a run's channels to samples: from the instrument's worklist CSV when it lists the run, else from
    the worklist a person sent to the instrument (``lims worklist send``, built from a batch;
    :func:`lims.acquisition.orders.take_channel_worklist`, needs ``instrument_id``). Returns the counter to
    add to (``worklist_assigned`` with the channels assigned, ``worklist_missing`` or ``worklist_errors``
    with 1; ``("worklist_missing", 0)`` when the instrument has no worklist of either kind). A worklist
    problem is logged, never loses the readings (they stay unassigned, :func:`assign_channels` can be run
    later); a sent worklist that cannot be applied is marked failed with the reason."""
    from lims.acquisition.orders import APPLIED, FAILED, settle_worklist, take_channel_worklist

    taken: int | None = None
    try:
        samples = read_worklist(cfg.worklist).get(run_no) if cfg.worklist is not None and cfg.worklist.exists() else None
        source = f"worklist:{cfg.worklist.name}" if cfg.worklist is not None else ""
        unused: list[int] = []
        if not samples and instrument_id is not None:
            found = take_channel_worklist(s, instrument_id)
            if found is not None:
                taken, wanted = found
                source = f"worklist:{taken}"
                reported = set(s.execute(select(Reading.channel).where(
                    Reading.instrument_id == instrument_id, Reading.run_no == run_no)).scalars())
                samples = {c: code for c, code in wanted.items() if c in reported}
                unused = sorted(set(wanted) - reported)  # positions the run did not report: named, not refused
                if not samples:
                    raise WorklistError(f"run {run_no} reported none of the worklist's positions {sorted(wanted)}")
        if not samples:
            if cfg.worklist is None:
                return "worklist_missing", 0
            log.info("%s: run %s is not in the worklist %s", cfg.code, run_no, cfg.worklist)
            return "worklist_missing", 1
        done = assign_channels(s, cfg.code, run_no, samples, source=source)
    except WorklistError as exc:
        log.warning("%s: worklist not applied: %s", cfg.code, exc)
        if taken is not None:
            settle_worklist(s, taken, FAILED, f"run {run_no}: {exc}", run_no=run_no)
        return "worklist_errors", 1
    if taken is not None:
        settle_worklist(s, taken, APPLIED, f"applied to run {run_no}: {len(done.assigned)} channel(s)"
                        + (f"; positions {unused} not in the run" if unused else ""), run_no=run_no)
    return "worklist_assigned", len(done.assigned)
