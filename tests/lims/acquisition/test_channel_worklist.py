"""Channel → sample mapping for testers that send no sample ID (hardware-sim/PROTOCOLS.md (b)):
assign_channels refuses anything ambiguous without changing a row; worklist files name file/line/field."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.acquisition import ConfigError, parse_config
from lims.acquisition.service import ensure_instruments
from lims.acquisition.worklist import WorklistError, assign_channels, read_worklist
from lims.db.engine import session_scope
from lims.db.models import AuditEvent, RawCapture, Reading


def _run(db_factory, run_no: str = "7", channels=(1, 2, 3)) -> int:
    cfg = parse_config(
        '[[instrument]]\ncode = "RT-U"\nprofile = "rapid_binary_16ch"\ntransport = "/dev/null"\n'
    )
    inst_id, _ = ensure_instruments(db_factory, cfg)["RT-U"]
    with session_scope(db_factory, actor="test") as s:
        cap = RawCapture(
            instrument_id=inst_id,
            data=b"\xaa",
            sha256="0" * 64,
            profile="rapid_binary_16ch",
            parse_status="parsed",
        )
        s.add(cap)
        s.flush()
        s.add_all(
            [
                Reading(
                    raw_capture_id=cap.id,
                    instrument_id=inst_id,
                    record_type="GET_RESULT",
                    channel=c,
                    run_no=run_no,
                    fields={"inhibition_percent": 10.0 * c},
                )
                for c in channels
            ]
        )
    return inst_id


def _codes(db_factory) -> dict[int, str | None]:
    with db_factory() as s:
        return dict(s.execute(select(Reading.channel, Reading.sample_code)).all())


def test_assign_sets_sample_codes_once_and_audits_the_change(db_factory):
    _run(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        done = assign_channels(s, "RT-U", 7, {1: "S-A", 3: " S-C "}, source="bench sheet")
    assert [c for c, _ in done.assigned] == [1, 3] and done.unchanged == ()
    assert _codes(db_factory) == {1: "S-A", 2: None, 3: "S-C"}
    with session_scope(db_factory, actor="zhangwei") as s:
        again = assign_channels(s, "RT-U", "7", {1: "S-A"})
    assert again.assigned == () and [c for c, _ in again.unchanged] == [1]
    with db_factory() as s:
        events = s.execute(
            select(AuditEvent.actor, AuditEvent.record_id).where(AuditEvent.table_name == "reading")
        ).all()
        fields = s.execute(select(Reading.fields).where(Reading.channel == 1)).scalar_one()
    assert [tuple(e) for e in events] == [("zhangwei", "instrument:RT-U/run:7")]  # the no-op added none
    assert fields == {"inhibition_percent": 10.0, "sample_source": "bench sheet"}


@pytest.mark.parametrize(
    ("instrument", "run", "mapping", "message"),
    [
        ("NOPE", "7", {1: "S-A"}, "no instrument with code 'NOPE'"),
        ("RT-U", "8", {1: "S-A"}, "run 8: no channel readings"),
        ("RT-U", "7", {4: "S-A"}, "channel 4: the instrument reported no such channel"),
        ("RT-U", "7", {1: "S-Z", 2: ""}, "channel 2: sample code must be 1-60 characters"),
        ("RT-U", "7", {1: "S-Z", 3: "S-C", 2: "X" * 61}, "channel 2: sample code must be 1-60 characters"),
        ("RT-U", "7", {1: "S-B", 2: "S-A"}, "channel 1: already assigned to sample 'S-Z'"),
    ],
)
def test_refusals_change_nothing(db_factory, instrument, run, mapping, message):
    _run(db_factory)
    with session_scope(db_factory, actor="t") as s:
        assign_channels(s, "RT-U", "7", {1: "S-Z"})
    with pytest.raises(WorklistError, match=message), session_scope(db_factory, actor="t") as s:
        assign_channels(s, instrument, run, mapping)
    assert _codes(db_factory) == {1: "S-Z", 2: None, 3: None}


def test_reassign_replaces_and_a_reused_run_number_is_ambiguous(db_factory):
    _run(db_factory)
    with session_scope(db_factory, actor="t") as s:
        assign_channels(s, "RT-U", "7", {1: "S-Z"})
        assign_channels(s, "RT-U", "7", {1: "S-Y"}, reassign=True)
    assert _codes(db_factory)[1] == "S-Y"
    _run(db_factory, channels=(2,))  # the device counter was reset: run 7 again
    with (
        pytest.raises(WorklistError, match="channel 2: 2 readings"),
        session_scope(db_factory, actor="t") as s,
    ):
        assign_channels(s, "RT-U", "7", {2: "S-B"})


def test_read_worklist(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text(
        "\ufeff# run sheet\nrun_no,channel,sample_code\n0012,1,S-1\n12,2,S-2\n13,1,S-3\n", encoding="utf-8"
    )
    assert read_worklist(p) == {"12": {1: "S-1", 2: "S-2"}, "13": {1: "S-3"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run,channel,sample_code\n1,1,S\n", "line 1: header lacks run_no"),
        ("run_no,channel,sample_code\n1,x,S\n", "line 2: field channel is not a whole number"),
        ("run_no,channel,sample_code\n\n1,1,\n", "line 3: field sample_code is empty"),
        ("run_no,channel,sample_code\n1,1,S\n1,1,T\n", "line 3: run 1 channel 1 is listed twice"),
    ],
)
def test_read_worklist_errors_name_file_line_field(tmp_path, text, message):
    p = tmp_path / "w.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(WorklistError, match=f"w.csv: {message}"):
        read_worklist(p)


def test_worklist_only_for_binary_testers():
    with pytest.raises(ConfigError) as err:
        parse_config(
            '[[instrument]]\ncode = "A"\nprofile = "astm_gc_datasystem"\ntransport = "/dev/x"\n'
            'worklist = "w.csv"\n',
            file="site.toml",
        )
    assert err.value.key == "instrument[0].worklist"
