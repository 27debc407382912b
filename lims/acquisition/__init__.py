"""Instrument acquisition (`lims acquire`): every configured instrument's driver in one process, raw bytes first.

- :mod:`.config` — the TOML configuration (instruments, transports, watch folders), validated on load;
- :mod:`.links` — byte links (:class:`drivers.transports.link.ByteLink`) from transport URLs (serial, TCP
  client/server) and Modbus links;
- :mod:`.store` — durable raw captures and instrument status;
- :mod:`.dialects` — one handler per profile kind, registered by kind: its runner (ASCII line, ASTM
  E1381/E1394, binary request/response, Modbus polling, export-file watch folder) and its capture parser;
- :mod:`.ingest` — the one step every stored unit goes through (already seen → duplicate, else parse);
- :mod:`.service` — runs the runners concurrently (one thread each; a crashing runner is restarted with
  backoff and never stops the others);
- :mod:`.settle` — captures a stopped process left ``pending``, settled at start-up;
- :mod:`.reparse` — captures in error parsed again after a profile fix;
- :mod:`.worklist` — channel → sample worklists of testers without a sample ID on the wire;
- :mod:`.feed` — bytes read by the caller through the same runner path (``lims demo``);
- :mod:`.values` — values as devices send them: NaN/±Inf/out-of-range/sentinel become a reading's
  ``value_state`` (the number absent, never ``NaN`` in JSON); the profile's units travel with each reading;
- :mod:`.runs` — run integrity of grouped line dialects (end record count, missing end) and declared
  sequence numbers; :mod:`.dialects.download` checks record downloads (totals, sequence numbers, end reply);
- :mod:`.events` — instrument events a person must see (incomplete runs, sequence gaps, records given up,
  refused files); :mod:`.holds` — readings held for review, released with an audited reason.

A capture whose parsing fails in a way no dialect anticipated (an untyped reader error, a value the database
refuses) is kept ``error`` with a ``Quarantined`` reason inside a savepoint (:func:`.ingest.guarded_parse`):
it never stops a runner, start-up settling or the start of ``lims acquire``.

Raw bytes are committed before anything is acknowledged or parsed: an ASTM frame is ACKed only after its
capture row is committed; a line, reply, register block or file is committed before it is parsed. Captures
a stopped process committed but did not parse (``pending``) are settled when the service starts, before any
runner (:func:`lims.acquisition.settle.settle_pending`). A unit the device sends again right after our ACK
(the ACK reached it late, or not at all) is kept as a ``duplicate`` capture and counted in the instrument's
``duplicate_resends``.

Why ``raw_capture`` and ``reading`` rows are not echoed into the audit trail (``lims.db.audit._NOT_AUDITED``):
a raw capture is itself append-only evidence — the exact bytes with their SHA-256, never edited — and a
reading is derived deterministically from its capture (re-deriving it gives the same reading), so an audit
event per row would only copy them while serialising every instrument's writes on the chain's lock (one
append per ASTM frame at line rate). What a person does to them is audited: a re-parse appends one audit
event naming the instrument and the counts, and results made from readings are audited as usual.
Instrument status counters (connected, last message, counts) are telemetry updated in place with a plain
UPDATE, not record changes.
"""

from lims.acquisition.config import AcquireConfig, ConfigError, load_config, parse_config
from lims.acquisition.service import AcquisitionService, InstrumentStats

__all__ = ["AcquireConfig", "AcquisitionService", "ConfigError", "InstrumentStats", "load_config", "parse_config"]
