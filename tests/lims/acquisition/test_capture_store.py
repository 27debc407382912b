"""CaptureStore's lean writes (compiled SQL on the DBAPI connection) give the same rows the ORM reads back,
on SQLite and PostgreSQL; a failed write leaves nothing behind and the next one works."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.acquisition import parse_config
from lims.acquisition.service import ensure_instruments
from lims.acquisition.store import SQLITE_AUTOCHECKPOINT_PAGES, CaptureStore, NewCapture
from lims.db.models import RawCapture, Reading, utcnow

#: FIPS 180-2 Appendix B.1: SHA-256("abc").
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _store(db_factory, **kw) -> CaptureStore:
    cfg = parse_config(
        '[[instrument]]\ncode = "GC-S"\nprofile = "astm_gc_datasystem"\ntransport = "/dev/null"\n'
    )
    inst_id, _ = ensure_instruments(db_factory, cfg)["GC-S"]
    return CaptureStore(db_factory, inst_id, "GC-S", "astm_gc_datasystem", **kw)


@pytest.mark.parametrize("keep", [True, False])
def test_add_commits_rows_the_orm_reads_back(db_factory, keep):
    store = _store(db_factory, keep_connection=keep)
    try:
        ids = store.add(
            [
                NewCapture(b"abc", 7, source="peer"),
                NewCapture(b"\x00\xff", 10, status="rejected", error="bad checksum"),
            ]
        )
        one = store.add_one(NewCapture(b"x", unit_sha256="u" * 64))
    finally:
        store.close()
    assert ids[0] < ids[1] < one
    with db_factory() as s:
        rows = s.execute(select(RawCapture).order_by(RawCapture.id)).scalars().all()
    assert [
        (r.id, r.data, r.stream_offset, r.source, r.parse_status, r.error, r.unit_sha256, r.profile)
        for r in rows
    ] == [
        (ids[0], b"abc", 7, "peer", "pending", "", None, "astm_gc_datasystem"),
        (ids[1], b"\x00\xff", 10, "", "rejected", "bad checksum", None, "astm_gc_datasystem"),
        (one, b"x", 0, "", "pending", "", "u" * 64, "astm_gc_datasystem"),
    ]
    assert rows[0].sha256 == SHA256_ABC and rows[0].received_at is not None


def test_failed_write_commits_nothing_and_the_next_write_works(db_factory):
    store = _store(db_factory, keep_connection=True)
    good = store.instrument_id
    try:
        store.instrument_id = good + 1000  # no such instrument: the foreign key refuses the row
        with pytest.raises(store.engine.dialect.loaded_dbapi.IntegrityError):  # the driver's own error
            store.add([NewCapture(b"a"), NewCapture(b"b")])
        store.instrument_id = good
        cap = store.add_one(NewCapture(b"c"))
    finally:
        store.close()
    with db_factory() as s:
        assert s.execute(select(RawCapture.id, RawCapture.data)).all() == [(cap, b"c")]


def test_settle_unit_parsed_then_duplicate_then_error(db_factory):
    store = _store(db_factory, keep_connection=True)
    try:
        first = store.add([NewCapture(b"f1"), NewCapture(b"f2")])
        values = [
            {
                "record_type": "R",
                "channel": None,
                "sample_code": "S-1",
                "run_no": "1",
                "fields": {"test_code": "CHLORPYRIFOS", "value": "0.012", "comments": ["é & |"]},
            }
        ]
        when = utcnow()
        assert (
            store.settle_unit(first, "a" * 64, values, reading_capture_id=first[-1], read_at=when) == "parsed"
        )
        again = store.add([NewCapture(b"f1"), NewCapture(b"f2")])
        assert (
            store.settle_unit(again, "a" * 64, values, reading_capture_id=again[-1], read_at=when)
            == "duplicate"
        )
        bad = store.add([NewCapture(b"g")])
        assert (
            store.settle_unit(
                bad, "b" * 64, [], reading_capture_id=bad[0], read_at=when, error="ProtocolError: no H record"
            )
            == "error"
        )
        store.mark(bad, "incomplete", error="link lost")  # unit identity kept when not given
    finally:
        store.close()
    with db_factory() as s:
        caps = {
            c.id: (c.parse_status, c.error, c.unit_sha256) for c in s.execute(select(RawCapture)).scalars()
        }
        readings = s.execute(select(Reading)).scalars().all()
    assert [caps[i] for i in first] == [("parsed", "", "a" * 64)] * 2
    assert [caps[i] for i in again] == [("duplicate", "", "a" * 64)] * 2
    assert caps[bad[0]] == ("incomplete", "link lost", "b" * 64)
    assert [(r.raw_capture_id, r.instrument_id, r.sample_code, r.fields) for r in readings] == [
        (first[-1], store.instrument_id, "S-1", values[0]["fields"])
    ]


def test_sqlite_checkpoint_setting_is_restored_when_the_connection_goes_back(db_factory):
    store = _store(db_factory, keep_connection=True, wal_checkpoints_elsewhere=True)
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite WAL setting")
    store.add_one(NewCapture(b"z"))
    dbapi = store._raw.driver_connection
    assert dbapi.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    store.close()
    assert dbapi.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == SQLITE_AUTOCHECKPOINT_PAGES
