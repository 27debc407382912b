"""Run integrity of grouped line dialects (a profile's ``[line.group]``: ``start`` … ``item``* … ``end``).

A run is complete when its end record arrived and the number of item lines received between its start and
its end equals the end record's ``count_field`` (every line received counts, even one whose content did
not parse: that one is already a capture in ``error``; a duplicate resend does not). Otherwise the run is
*incomplete*: its item readings are held for review (``Reading.review_hold``) and an instrument event
(``run_incomplete``) makes the gap visible. A run without an end record is found when the next run starts
or the link is lost; if its end arrives later (the device resent the run after a reconnect) and the count
agrees, the hold is lifted again with an event saying so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from drivers.profiles import GroupSpec, Profile
from lims.acquisition.events import EventKind, add_event
from lims.db.models import InstrumentEvent, RawCapture, Reading

NO_END = "run incomplete: no end record"


def check_sequence(s: Session, cap: RawCapture, reading: Reading, profile: Profile | None) -> None:
    """A record whose profile declares a ``sequence_field``: numbers skipped since the instrument's previous
    record of that type are a ``sequence_gap`` event (a record the device sent and we never received; the
    counter wraps after the field's maximum). A repeat or a restart (lower number) is not a gap."""
    spec = profile.line.records.get(reading.record_type) if profile is not None and profile.line else None
    if spec is None or spec.sequence_field is None or not isinstance(reading.fields.get(spec.sequence_field), int):
        return
    field_name = spec.sequence_field
    prev = s.execute(select(Reading.fields).where(
        Reading.instrument_id == cap.instrument_id, Reading.record_type == reading.record_type,
        Reading.id != reading.id, Reading.raw_capture_id < cap.id).order_by(Reading.raw_capture_id.desc())
        .limit(1)).scalar_one_or_none()
    if prev is None or not isinstance(prev.get(field_name), int):
        return
    top = next((int(f.maximum) for f in spec.fields if f.name == field_name and f.maximum is not None), None)
    before, now = int(prev[field_name]), int(reading.fields[field_name])
    if top is not None and before == top and now == 1:
        return
    if now > before + 1:
        missing = list(range(before + 1, now))
        add_event(s, cap.instrument_id, EventKind.SEQUENCE_GAP,
                  f"{reading.record_type} {field_name}: {len(missing)} record(s) never received between {before} "
                  f"and {now}: {missing[:50]}", capture_id=cap.id)


def group_of(profile: Profile | None) -> GroupSpec | None:
    return profile.line.group if profile is not None and profile.line is not None else None


def check_run(s: Session, cap: RawCapture, reading: Reading, profile: Profile | None) -> None:
    """After ``reading`` (of capture ``cap``) was added: check the run it ends, or the run its start
    leaves without an end."""
    group = group_of(profile)
    if group is None:
        return
    if reading.record_type == group.end:
        assert profile is not None
        _close(s, cap, reading, group, profile)
    elif reading.record_type == group.start:
        abandon_open_run(s, cap.instrument_id, group, before_capture=cap.id,
                         why="the next run started before its end record")


def _last_start(s: Session, instrument_id: int, group: GroupSpec, before: int | None,
                run_no: str | None = None) -> Reading | None:
    q = select(Reading).where(Reading.instrument_id == instrument_id, Reading.record_type == group.start)
    if before is not None:
        q = q.where(Reading.raw_capture_id < before)
    if run_no is not None:
        q = q.where(Reading.run_no == run_no)
    return s.execute(q.order_by(Reading.raw_capture_id.desc()).limit(1)).scalars().first()


def _items(s: Session, instrument_id: int, group: GroupSpec, run_no: str, after: int, before: int | None) -> Any:
    q = select(Reading).where(Reading.instrument_id == instrument_id, Reading.record_type == group.item,
                              Reading.run_no == run_no, Reading.raw_capture_id > after)
    if before is not None:
        q = q.where(Reading.raw_capture_id < before)
    return q


def _items_received(s: Session, instrument_id: int, group: GroupSpec, prefix: bytes, run_no: str, after: int,
                    before: int) -> int:
    """Item lines of the run received between two captures: parsed ones, and those whose content did not
    parse but that begin as an item line does (duplicates, cut lines and other lines — a boot banner — are
    not items)."""
    parsed_items = s.execute(select(func.count()).select_from(
        _items(s, instrument_id, group, run_no, after, before).subquery())).scalar_one()
    damaged = s.execute(select(RawCapture.data).where(
        RawCapture.instrument_id == instrument_id, RawCapture.id > after, RawCapture.id < before,
        RawCapture.parse_status == "error")).scalars().all()
    return int(parsed_items) + sum(1 for data in damaged if data.startswith(prefix))


def _hold(s: Session, query: Any, reason: str) -> list[int]:
    ids = list(s.execute(query.with_only_columns(Reading.id)).scalars())
    if ids:
        s.execute(update(Reading).where(Reading.id.in_(ids)).values(review_hold=reason[:300]))
    return ids


def _item_prefix(profile: Profile) -> bytes:
    """How an item line begins on the wire (``#CH,``)."""
    d = profile.line
    assert d is not None and d.group is not None
    return d.start + (d.group.item + d.separator).encode(d.encoding)


def _close(s: Session, cap: RawCapture, end: Reading, group: GroupSpec, profile: Profile) -> None:
    run_no = end.run_no
    start = _last_start(s, cap.instrument_id, group, cap.id, run_no)
    declared = end.fields.get(group.count_field) if group.count_field else None
    if start is None:
        add_event(s, cap.instrument_id, EventKind.RUN_INCOMPLETE,
                  f"run {run_no}: end record without a start record (items held: none identifiable)",
                  run_no=run_no, capture_id=cap.id)
        return
    received = _items_received(s, cap.instrument_id, group, _item_prefix(profile), run_no, start.raw_capture_id,
                               cap.id)
    items = _items(s, cap.instrument_id, group, run_no, start.raw_capture_id, cap.id)
    if declared is not None and received != declared:
        reason = f"run incomplete: end record declares {declared} item lines, {received} received"
        held = _hold(s, items, reason)
        add_event(s, cap.instrument_id, EventKind.RUN_INCOMPLETE,
                  f"run {run_no}: {reason}; {len(held)} reading(s) held for review: {held}",
                  run_no=run_no, capture_id=cap.id)
        return
    released = _hold(s, items.where(Reading.review_hold == NO_END), "")
    if released:
        add_event(s, cap.instrument_id, EventKind.RUN_INCOMPLETE,
                  f"run {run_no}: its end record arrived afterwards and the count agrees; hold lifted from "
                  f"{len(released)} reading(s)", run_no=run_no, capture_id=cap.id)


def abandon_open_run(s: Session, instrument_id: int, group: GroupSpec, *, before_capture: int | None,
                     why: str) -> list[int]:
    """The latest run (started before capture ``before_capture``, or at all) if it has no end record:
    hold its items and record the event once; returns the readings held."""
    start = _last_start(s, instrument_id, group, before_capture)
    if start is None:
        return []
    ends = select(Reading.id).where(
        Reading.instrument_id == instrument_id, Reading.record_type == group.end, Reading.run_no == start.run_no,
        Reading.raw_capture_id > start.raw_capture_id)
    if before_capture is not None:
        ends = ends.where(Reading.raw_capture_id < before_capture)
    ended = s.execute(ends.limit(1)).first()
    noted = s.execute(select(InstrumentEvent.id).where(and_(
        InstrumentEvent.instrument_id == instrument_id, InstrumentEvent.kind == str(EventKind.RUN_INCOMPLETE),
        InstrumentEvent.raw_capture_id == start.raw_capture_id)).limit(1)).first()
    if ended is not None or noted is not None:
        return []
    held = _hold(s, _items(s, instrument_id, group, start.run_no, start.raw_capture_id, before_capture), NO_END)
    add_event(s, instrument_id, EventKind.RUN_INCOMPLETE,
              f"run {start.run_no}: {NO_END} ({why}); {len(held)} reading(s) held for review: {held}",
              run_no=start.run_no, capture_id=start.raw_capture_id)
    return held
