"""E1394 messages the computer system sends (drivers.codecs.astm.orders): order download and host-query
answers, and the reading of Q records as instruments write them. Field numbers per E1394 (O §9.4, Q §12.1,
L §13.1)."""

from __future__ import annotations

import pytest

from drivers.codecs.astm.orders import (
    HostQuery,
    Order,
    answer_orders,
    host_queries,
    order_message,
)
from drivers.codecs.astm.records import O_REPORT_TYPE, O_SPECIMEN_ID, O_TEST_ID, parse_records
from drivers.errors import FieldError


def _records(message: list[bytes]):
    return parse_records(b"\r".join(message))[0]


def test_order_download_message_fields():
    msg = order_message([Order("S-1", ("CHLORPYRIFOS", "DIMETHOATE"), "1"), Order("S-2", ("A|B",), "2")],
                        sender="LIMS", receiver="GC-01", timestamp="20261206093000")
    assert msg[0] == b"H|\\^&|||LIMS|||||GC-01||P|LIS2-A2|20261206093000"
    recs = _records(msg)
    orders = [r for r in recs if r.type == "O"]
    assert [o.value(O_SPECIMEN_ID) for o in orders] == ["S-1", "S-2"]
    assert orders[0].repeats(O_TEST_ID) == [["", "", "", "CHLORPYRIFOS"], ["", "", "", "DIMETHOATE"]]
    assert orders[1].components(O_TEST_ID) == ["", "", "", "A|B"]  # escaped on the wire (&F&), read back whole
    assert [o.field(O_REPORT_TYPE) for o in orders] == ["O", "O"] and orders[0].field(12) == "N"
    assert [r.type for r in recs] == ["H", "P", "O", "P", "O", "L"] and recs[-1].field(3) == "N"


def test_query_answer_termination_and_unknown_specimens():
    both = _records(order_message([Order("S-1", ("X",))], sender="LIMS", report_type="Q", unknown=["S-9"]))
    assert [(r.value(3), r.field(O_REPORT_TYPE)) for r in both if r.type == "O"] == [("S-1", "Q"), ("S-9", "Y")]
    assert both[-1].field(3) == "F"
    none = _records(order_message([], sender="LIMS", report_type="Q", unknown=["S-9"]))
    assert none[-1].field(3) == "I"  # no information available from the last query


def test_host_queries_as_instruments_write_them():
    recs = _records([b"H|\\^&|||AN-1", b"Q|1|^S-1\\^S-2||^^^ALL||||||||O", b"Q|2|S-3||^^^GLU\\^^^CHOL||||||||O",
                     b"Q|3|^S-4||||||||||A", b"L|1|N"])
    assert host_queries(recs) == [HostQuery("1", ("S-1", "S-2"), (), "O"), HostQuery("2", ("S-3",), ("GLU", "CHOL"), "O"),
                                  HostQuery("3", ("S-4",), (), "A")]


def test_answer_orders_filters_tests_answers_once_and_skips_cancelled():
    known = {"S-1": Order("S-1", ("GLU", "CHOL"), "1"), "S-3": Order("S-3", ("NA",), "3")}
    queries = [HostQuery("1", ("S-1", "S-9", "S-1"), ("chol",), "O"), HostQuery("2", ("S-3",), (), "A"),
               HostQuery("3", ("S-3",), ("K",), "O")]
    orders, unknown = answer_orders(queries, known)
    assert orders == [Order("S-1", ("CHOL",), "1")]
    assert unknown == ["S-9", "S-3"]  # S-3 has no K ordered: "no order on record for this test"


def test_orders_that_cannot_be_sent_are_refused():
    with pytest.raises(FieldError, match="specimen ID"):
        order_message([Order(" ", ("X",))], sender="LIMS")
    with pytest.raises(FieldError, match="empty test code"):
        order_message([Order("S-1", ("",))], sender="LIMS")
    with pytest.raises(FieldError, match="cannot be sent in latin-1"):
        order_message([Order("样品-1", ("X",))], sender="LIMS")
    assert "样品-1".encode() in b"".join(order_message([Order("样品-1", ("X",))], sender="LIMS", encoding="utf-8"))
