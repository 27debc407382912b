"""The ASTM runner's sender role (issue 13: both directions): the LIMS, as the computer system, sends test
orders down to the instrument and answers its host queries, on the same E1381 link it receives results on.

- **Order download**: while the line is idle, every ``poll_interval_s`` the instrument's oldest pending
  worklist (:mod:`lims.acquisition.orders`, stored by ``lims worklist send`` or
  ``POST /api/v1/instruments/{code}/worklist``) is queued as one E1394 message of order records
  (:func:`drivers.codecs.astm.orders.order_message`); it is marked ``sent`` when every frame was ACKed,
  ``failed`` with the link's reason when the message was aborted (6 NAKs, no reply in 15 s, lost link).
- **Host query**: a received message with Q records is answered, once its session has ended, with the
  orders of the specimens asked for (:func:`lims.acquisition.orders.query_orders`), and an O record of
  report type ``Y`` for each specimen without orders (L.3 ``I`` when none had any).

E1381 contention (both sides ENQ at once) is the link's business: the computer system yields
(:class:`drivers.codecs.astm.link.AstmLink`) and the message is sent after the instrument's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from drivers.codecs.astm.link import AstmLink, LinkEvent, MessageAborted, MessageDelivered
from drivers.codecs.astm.orders import (
    REPORT_QUERY_ANSWER,
    HostQuery,
    answer_orders,
    order_message,
)
from drivers.errors import ProtocolError
from lims.acquisition.orders import (
    FAILED,
    SENT,
    pending_worklist,
    query_orders,
    settle_worklist,
    worklist_orders,
)
from lims.db.engine import session_scope

log = logging.getLogger("lims.acquire")
#: H.5 sender name of the messages the LIMS sends
SENDER_NAME = "LIMS"
#: China Standard Time: E1394 date-times are the sender's local time (§7.1.14); county labs keep Beijing time
CST = dt.timezone(dt.timedelta(hours=8))


@dataclass
class OrderDeskStats:
    orders_sent: int = 0  # worklists delivered (every frame ACKed)
    orders_failed: int = 0
    queries_answered: int = 0
    specimens_unknown: int = 0  # asked about in a query, no orders on record


@dataclass
class AstmOrderDesk:
    """Outgoing messages of one ASTM runner (module docstring)."""

    factory: sessionmaker[Session]
    instrument_id: int
    code: str
    actor: str
    encoding: str = "latin-1"
    poll_interval_s: float = 1.0
    stats: OrderDeskStats = field(default_factory=OrderDeskStats)
    in_flight: dict[int, int] = field(default_factory=dict)  # link message id → worklist id
    next_poll: float = 0.0

    def _timestamp(self) -> str:
        return dt.datetime.now(CST).strftime("%Y%m%d%H%M%S")

    def poll(self, link: AstmLink, now: float) -> None:
        """While the line is idle and nothing is queued: queue the oldest pending worklist, if any."""
        if now < self.next_poll or link.state != AstmLink.IDLE or link.next_deadline is not None or self.in_flight:
            return
        self.next_poll = now + self.poll_interval_s
        with session_scope(self.factory, actor=self.actor, reason="order download") as s:
            row = pending_worklist(s, self.instrument_id)
            if row is None:
                return
            worklist_id, entries = row.id, list(row.entries)
            try:
                records = order_message(worklist_orders(entries), sender=SENDER_NAME, receiver=self.code,
                                        timestamp=self._timestamp(), encoding=self.encoding)
            except ProtocolError as exc:
                settle_worklist(s, worklist_id, FAILED, f"cannot be encoded: {exc}")
                self.stats.orders_failed += 1
                return
        self.in_flight[link.send(records, now)] = worklist_id
        log.info("%s: worklist %d queued (%d positions)", self.code, worklist_id, len(entries))

    def answer(self, link: AstmLink, queries: Sequence[HostQuery], now: float) -> None:
        """Queue the answer to a message's Q records (nothing for cancelled queries only)."""
        if not queries or all(q.cancelled for q in queries):
            return
        asked = [i for q in queries if not q.cancelled for i in q.specimen_ids]
        with session_scope(self.factory, actor=self.actor) as s:
            known = query_orders(s, self.instrument_id, asked)
        orders, unknown = answer_orders(queries, known)
        try:
            records = order_message(orders, sender=SENDER_NAME, receiver=self.code, timestamp=self._timestamp(),
                                    report_type=REPORT_QUERY_ANSWER, unknown=unknown, encoding=self.encoding)
        except ProtocolError as exc:
            log.error("%s: host query not answered: %s", self.code, exc)
            return
        link.send(records, now)
        self.stats.queries_answered += 1
        self.stats.specimens_unknown += len(unknown)
        log.info("%s: host query for %s answered: %d with orders, %d unknown", self.code, asked, len(orders),
                 len(unknown))

    def on_events(self, events: Sequence[LinkEvent]) -> None:
        """Settle the worklists whose message was delivered or aborted."""
        for ev in events:
            if isinstance(ev, MessageDelivered) and ev.message_id in self.in_flight:
                self._settle(self.in_flight.pop(ev.message_id), SENT, "every frame acknowledged")
            elif isinstance(ev, MessageAborted) and ev.message_id in self.in_flight:
                self._settle(self.in_flight.pop(ev.message_id), FAILED, f"aborted: {ev.reason}")

    def on_disconnect(self) -> None:
        """The link was lost: worklists in flight failed (a person sends them again)."""
        for worklist_id in list(self.in_flight.values()):
            self._settle(worklist_id, FAILED, "link lost before every frame was acknowledged")
        self.in_flight.clear()

    def _settle(self, worklist_id: int, status: str, detail: str) -> None:
        try:
            with session_scope(self.factory, actor=self.actor, reason="order download") as s:
                settle_worklist(s, worklist_id, status, detail)
        except Exception:  # telemetry of the link: never stops it
            log.exception("%s: cannot record worklist %d as %s", self.code, worklist_id, status)
            return
        if status == SENT:
            self.stats.orders_sent += 1
        else:
            self.stats.orders_failed += 1
        log.info("%s: worklist %d %s: %s", self.code, worklist_id, status, detail)
