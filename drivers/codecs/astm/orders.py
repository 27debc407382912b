"""ASTM E1394 / CLSI LIS02-A2 messages the computer system sends: test orders (order download) and the
answer to an instrument's host query (Q record). Pure records, no I/O; frame them with
:func:`drivers.codecs.astm.frames.build_frames` or queue them on :class:`drivers.codecs.astm.link.AstmLink`.

- Order download (E1394 §9.4): H, then per sample P (§8.1) and O (§9.4) with O.3 the specimen ID, O.4 the
  instrument specimen ID (the worklist position), O.5 the tests as repetitions of the universal test ID
  ``^^^CODE`` (§9.4.5, ``\\`` repeat delimiter), O.6 priority, O.12 action code ``N`` (new order),
  O.26 report type ``O`` (order); L.3 ``N`` (normal termination, §13.1.3).
- Host query (E1394 §12.1): Q.3 starting range ID — ``patient ID^specimen ID^…`` (§12.1.3), repetitions
  for several specimens; Q.5 the tests asked (``^^^ALL`` or empty: all); Q.13 request information status.
  The answer carries O.26 ``Q`` (response to query) for each order found and, per specimen the computer
  system knows nothing of, an O record with O.26 ``Y`` ("no order on record for this test", §9.4.26); the
  L record says ``F`` (last request for information processed) or, when nothing at all was found, ``I``
  (no information available from the last query, §13.1.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.codecs.astm.records import (
    DEFAULT_DELIMITERS,
    Delimiters,
    FieldValue,
    Record,
    encode_record,
)
from drivers.errors import FieldError

Q_ID_RANGE_START = 3  # E1394 12.1.3 starting range ID number (patient ID ^ specimen ID ^ ...)
Q_TESTS = 5  # E1394 12.1.5 universal test ID
Q_REQUEST_STATUS = 13  # E1394 12.1.13 request information status codes

#: O.26 report types (E1394 9.4.26)
REPORT_ORDER, REPORT_QUERY_ANSWER, REPORT_NO_ORDER = "O", "Q", "Y"
#: L.3 termination codes (E1394 13.1.3)
END_NORMAL, END_QUERY_DONE, END_NO_INFORMATION = "N", "F", "I"
#: O.12 action code "N": new requests accompanying a new specimen (E1394 9.4.12)
ACTION_NEW = "N"
#: Q.13 "A": abort/cancel the last request criteria (E1394 12.1.13) — no answer is owed
CANCEL_QUERY = "A"
#: field 5 values that ask for every test (E1394 12.1.5: "ALL" in the universal test ID's local code)
ALL_TESTS = "ALL"


@dataclass(frozen=True)
class Order:
    """One specimen's orders: its ID (O.3), its worklist position (O.4) and the test codes (O.5)."""

    specimen_id: str
    tests: tuple[str, ...]
    position: str = ""
    priority: str = "R"  # E1394 9.4.6: S stat, A as soon as possible, R routine


@dataclass(frozen=True)
class HostQuery:
    """One Q record: the specimen IDs asked for, the tests asked (empty: all) and the status code."""

    sequence: str
    specimen_ids: tuple[str, ...]
    tests: tuple[str, ...]
    status: str

    @property
    def cancelled(self) -> bool:
        return self.status.upper() == CANCEL_QUERY


def _header(sender: str, receiver: str, timestamp: str, d: Delimiters) -> str:
    # H.2 delimiters, .3 message id, .4 password, .5 sender, .6-.9, .10 receiver, .11, .12 P(roduction),
    # .13 version (LIS2-A2), .14 date and time of message
    fields: list[FieldValue] = ["", "", "", sender, "", "", "", "", receiver, "", "P", "LIS2-A2", timestamp]
    return encode_record("H", fields, d)


def _order_record(seq: int, order: Order, report_type: str, d: Delimiters) -> str:
    tests: FieldValue = [["", "", "", t] for t in order.tests] if order.tests else None
    fields: list[FieldValue] = [str(seq), order.specimen_id, order.position, tests, order.priority,
                                "", "", "", "", "", ACTION_NEW if report_type != REPORT_NO_ORDER else "",
                                "", "", "", "", "", "", "", "", "", "", "", "", "", report_type]
    return encode_record("O", fields, d)


def _check(order: Order, d: Delimiters) -> None:
    if not order.specimen_id.strip():
        raise FieldError("an order needs a specimen ID (O.3)", field="O.3")
    if len(order.specimen_id) > 60:
        raise FieldError(f"specimen ID {order.specimen_id!r} is longer than 60 characters", field="O.3")
    for t in order.tests:
        if not t.strip():
            raise FieldError(f"specimen {order.specimen_id!r}: empty test code", field="O.5")


def order_message(orders: Sequence[Order], *, sender: str, receiver: str = "", timestamp: str = "",
                  report_type: str = REPORT_ORDER, unknown: Iterable[str] = (), encoding: str = "latin-1",
                  d: Delimiters = DEFAULT_DELIMITERS) -> list[bytes]:
    """The records (without CR, in ``encoding``) of one message: H, then per
    specimen P and O, then L. ``unknown`` specimen IDs (a query's IDs without orders) get an O record with
    report type ``Y``. The termination code is ``N`` for an order download, ``F``/``I`` for a query answer
    (module docstring). Raises :class:`FieldError` for an order without a specimen ID or with an empty test,
    or text the link's encoding cannot carry."""
    for o in orders:
        _check(o, d)
    texts = [_header(sender, receiver, timestamp, d)]
    seq = 0
    for o in orders:
        seq += 1
        texts += [encode_record("P", [str(seq)], d), _order_record(1, o, report_type, d)]
    for specimen in unknown:
        seq += 1
        texts += [encode_record("P", [str(seq)], d),
                  _order_record(1, Order(specimen, ()), REPORT_NO_ORDER, d)]
    if report_type == REPORT_ORDER:
        end = END_NORMAL
    else:
        end = END_QUERY_DONE if orders else END_NO_INFORMATION
    texts.append(encode_record("L", ["1", end], d))
    return [_encode(t, encoding) for t in texts]


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise FieldError(f"{text[:1]} record: {text[exc.start:exc.end]!r} cannot be sent in {encoding}",
                         field=f"{text[:1]} record") from None


def host_queries(records: Iterable[Record]) -> list[HostQuery]:
    """The Q records of a received message (E1394 §12.1). A specimen ID is the second component of each
    repetition of Q.3 (the first when the field has a single component, as many instruments write it);
    tests are the fourth component of each repetition of Q.5 (``ALL`` or nothing: all tests)."""
    out = []
    for rec in records:
        if rec.type != "Q":
            continue
        ids = []
        for comps in rec.repeats(Q_ID_RANGE_START):
            specimen = (comps[1] if len(comps) > 1 else comps[0]).strip()
            if specimen and specimen.upper() != ALL_TESTS:
                ids.append(specimen)
        tests = []
        for comps in rec.repeats(Q_TESTS):
            code = (comps[3] if len(comps) > 3 else comps[0]).strip()
            if code and code.upper() != ALL_TESTS:
                tests.append(code)
        out.append(HostQuery(rec.field(2), tuple(ids), tuple(tests), rec.value(Q_REQUEST_STATUS)))
    return out


def answer_orders(queries: Sequence[HostQuery], known: dict[str, Order]) -> tuple[list[Order], list[str]]:
    """The orders that answer ``queries`` from the computer system's ``known`` orders (by specimen ID):
    ``(orders, unknown specimen IDs)``. A query naming tests keeps only those of each order; a cancelled
    query (Q.13 ``A``) asks nothing. Each specimen is answered once, in the order asked."""
    orders: list[Order] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for q in queries:
        if q.cancelled:
            continue
        wanted = {t.upper() for t in q.tests}
        for specimen in q.specimen_ids:
            if specimen in seen:
                continue
            seen.add(specimen)
            order = known.get(specimen)
            tests = order.tests if order is not None and not wanted else tuple(
                t for t in (order.tests if order else ()) if t.upper() in wanted)
            if order is None or not tests:
                unknown.append(specimen)
            else:
                orders.append(Order(order.specimen_id, tests, order.position, order.priority))
    return orders, unknown
