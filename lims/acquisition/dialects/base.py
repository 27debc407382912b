"""What a dialect handler is: how units of one profile kind are received, identified and parsed.

Every profile names its dialect (``kind``: ``ascii_line``, ``astm``, ``binary_frame``, ``modbus``; export
files from a watch folder are the ``export_file`` kind). One handler per kind is registered in
:data:`DIALECTS`; the acquisition service, start-up settling and re-parsing look the handler up by kind and
never branch on the name (the way ophyd-async picks a signal backend by type).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.orm import Session

from lims.acquisition.ingest import AcquisitionStats, Ingested, guarded_parse, ingest
from lims.acquisition.links import open_byte_link
from lims.acquisition.store import CaptureStore, StatusTracker, sha256_hex
from lims.db.models import RawCapture, Reading

if TYPE_CHECKING:
    from drivers.profiles import Profile
    from lims.acquisition.config import InstrumentConfig
    from lims.acquisition.runner import Runner
    from lims.acquisition.settle import PendingOutcome


class Dialect:
    """Handler of one profile kind. Subclasses set :attr:`kind` and :attr:`runner_class` and implement
    :meth:`parse`; the defaults treat every capture as one unit identified by its bytes' SHA-256."""

    kind: ClassVar[str]
    #: builds the runner: ``(cfg, link, store, status, stop)`` (the watch-folder runner: without the link)
    runner_class: ClassVar[Callable[..., Runner]]
    #: ``"byte"`` (serial, TCP) or ``"modbus"``: which transports of the configuration carry it
    link: ClassVar[str] = "byte"
    #: the wire carries no sample ID, so a channel → sample worklist may be configured
    takes_worklist: ClassVar[bool] = False
    #: the ACK waits for the capture commit: the runner keeps its own database connection
    keeps_connection: ClassVar[bool] = False

    def open_link(self, cfg: InstrumentConfig) -> Any:
        """The (not yet connected) link of a configured instrument."""
        return open_byte_link(cfg)

    def runner(self, cfg: InstrumentConfig, store: CaptureStore, status: StatusTracker,
               stop: threading.Event) -> Runner:
        """The runner of a configured instrument, on a new link."""
        return self.runner_class(cfg, self.open_link(cfg), store, status, stop)

    def unit(self, profile: Profile | None, cap: RawCapture) -> str:
        """Identity of the unit ``cap`` holds (the same unit sent again has the same identity)."""
        return cap.unit_sha256 or sha256_hex(cap.data)

    def parse(self, s: Session, cap: RawCapture, profile: Profile | None) -> list[Reading]:
        """Readings of one capture (added to ``s``); on bad content mark ``cap`` ``error`` and return []."""
        raise NotImplementedError

    def settle(self, s: Session, caps: list[RawCapture], profile: Profile | None, out: PendingOutcome) -> None:
        """Captures an earlier run left ``pending``, as the live runner would have handled them."""
        for cap in caps:
            outcome = ingest(s, cap, self, profile)
            out.count(outcome)
            self.settled(cap, outcome, out)

    def settled(self, cap: RawCapture, outcome: Ingested, out: PendingOutcome) -> None:
        """Hook after a pending capture was settled (e.g. to note a binary run for its worklist)."""

    def reparse(self, s: Session, caps: list[RawCapture], profile: Profile | None, stats: AcquisitionStats) -> None:
        """Parse captures in ``error`` again (after a profile fix); no duplicate check (they never gave
        readings)."""
        for cap in caps:
            readings = guarded_parse(s, cap, self, profile)
            stats.count(Ingested(cap.parse_status, tuple(readings), cap.error))


#: Every dialect handler by kind (filled by :func:`register`).
DIALECTS: dict[str, Dialect] = {}


def register(handler: Dialect) -> Dialect:
    """Register a handler under its kind; returns it."""
    DIALECTS[handler.kind] = handler
    return handler
