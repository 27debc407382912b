"""Fixtures for driving runners sans-I/O: a link that records what the runner writes, and a factory that
builds a runner of a configured instrument on a given link (its instrument created in the test database)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lims.acquisition import parse_config
from lims.acquisition.dialects import dialect_of
from lims.acquisition.runner import Runner
from lims.acquisition.service import ensure_instruments
from lims.acquisition.store import CaptureStore, StatusTracker
from lims.db.engine import session_scope
from lims.db.models import Analysis, Analyte, Instrument, Method, Sample
from lims.demo import register_samples, seed_reference
from lims.services.batches import create_batch


class RecordingLink:
    """Byte link that records every write (``writes``) and reads nothing; ``on_write`` is called with each
    write before it is recorded (e.g. to check the database at the moment an ACK goes out)."""

    address = "test://recording"

    def __init__(self, on_write: Callable[[bytes], None] | None = None) -> None:
        self.writes: list[bytes] = []
        self.on_write = on_write

    def write(self, data: bytes) -> None:
        if self.on_write is not None:
            self.on_write(data)
        self.writes.append(data)

    def connect(self, stop: threading.Event | None = None) -> bool:
        return True

    def read(self, timeout_s: float) -> bytes:
        return b""

    def close(self) -> None:
        pass


@pytest.fixture
def recording_link() -> type[RecordingLink]:
    """The :class:`RecordingLink` class (a test makes one per runner)."""
    return RecordingLink


MakeRunner = Callable[..., Any]


@pytest.fixture
def make_runner(db_factory: sessionmaker[Session]) -> Iterator[MakeRunner]:
    """``make_runner(code, profile, link, **settings)``: the runner of the profile's dialect for a new
    instrument ``code`` on ``link`` (``settings`` are extra ``[[instrument]]`` keys), connected
    (``on_connect`` done); every runner made is closed at the end of the test."""
    made: list[Runner] = []

    def make(code: str, profile: str, link: Any, **settings: object) -> Any:
        extra = "".join(f"{k} = {v!r}\n" for k, v in settings.items())
        transport = "modbus-tcp://127.0.0.1:5020" if profile.startswith("modbus") else "/dev/null"
        cfg = parse_config(f'[[instrument]]\ncode = "{code}"\nprofile = "{profile}"\ntransport = "{transport}"\n'
                           + extra)
        inst = cfg.instruments[0]
        inst_id, _ = ensure_instruments(db_factory, cfg)[code]
        dialect = dialect_of(inst.profile)
        store = CaptureStore(db_factory, inst_id, code, profile, keep_connection=dialect.keeps_connection)
        runner = dialect.runner_class(inst, link, store, StatusTracker(db_factory, inst_id),  # type: ignore[call-arg]
                                      threading.Event())
        if hasattr(runner, "on_connect"):
            runner.on_connect()
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


#: demo samples put on batch B-GC-1 (confirmatory chlorpyrifos on the GC data system GC-01)
GC_BATCH = ("S20261128-003", "S20261128-004")


@pytest.fixture
def gc_lab(db_factory):
    """The demo lab with a GC data system GC-01 and batch B-GC-1 of confirmatory chlorpyrifos analyses."""
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        lab_id = s.execute(select(Instrument.lab_id)).scalars().first()
        s.add(Instrument(lab_id=lab_id, code="GC-01", name="气相色谱数据系统", profile="astm_gc_datasystem"))
        method = s.execute(select(Method).where(Method.code == "GC-OP")).scalar_one()
        analyte = s.execute(select(Analyte).where(Analyte.code == "CHLORPYRIFOS")).scalar_one()
        ids = []
        for code in GC_BATCH:
            sample = s.execute(select(Sample).where(Sample.code == code)).scalar_one()
            a = Analysis(sample_id=sample.id, method_id=method.id, analyte_id=analyte.id, kind="confirmatory",
                         status="pending")
            s.add(a)
            s.flush()
            ids.append(a.id)
        s.flush()
        create_batch(s, code="B-GC-1", method_code="GC-OP", instrument_code="GC-01", analysis_ids=ids)
    return db_factory
