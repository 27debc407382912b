"""ScriptedLink: a conversation of (expected write, reply) pairs that fails on a wrong write and on pairs
left over."""

from __future__ import annotations

import pytest

from drivers.transports.link import ByteLink
from drivers.transports.scripted import ScriptedLink, ScriptMismatch
from drivers.transports.tcp import ConnectionLost


def test_replies_follow_the_expected_writes_in_order():
    link = ScriptedLink([(b"PING\r", b"PONG\r"), (None, b"EVENT\r"), (b"Q?\r", b"42\r")])
    assert isinstance(link, ByteLink)
    assert link.connect() and link.read(0.1) == b""  # nothing before the first request
    link.write(b"PI")
    link.write(b"NG\r")  # a request written in pieces
    assert link.read(0.1) == b"PONG\r"
    assert link.read(0.1) == b"EVENT\r"  # the device speaks unprompted once the reply was read
    link.write(b"Q?\r")
    assert link.read(0.1) == b"42\r"
    link.assert_done()
    assert link.written == [b"PI", b"NG\r", b"Q?\r"]


def test_a_wrong_write_fails_with_both_byte_strings():
    link = ScriptedLink([(b"\x06", None)])
    with pytest.raises(ScriptMismatch, match=r"exchange 1: expected to write b'\\x06', got b'\\x15'"):
        link.write(b"\x15")


def test_a_write_while_the_device_should_speak_fails():
    link = ScriptedLink([(None, b"DATA\r"), (b"ACK\r", None)])
    with pytest.raises(ScriptMismatch, match="not read yet"):
        link.write(b"ACK\r")


def test_a_write_after_the_script_fails():
    link = ScriptedLink([])
    with pytest.raises(ScriptMismatch, match="after the last scripted exchange"):
        link.write(b"x")


def test_pairs_left_over_fail_at_the_end_of_the_with_block():
    with pytest.raises(ScriptMismatch, match="1 scripted exchange"):
        with ScriptedLink([(b"A", b"B"), (b"C", b"D")]) as link:
            link.write(b"A")
            assert link.read(0.0) == b"B"


def test_an_unread_reply_fails_too():
    link = ScriptedLink([(b"A", b"B")])
    link.write(b"A")
    with pytest.raises(ScriptMismatch, match="reply bytes not read: b'B'"):
        link.assert_done()


def test_chunked_replies_and_hang_up_at_the_end():
    link = ScriptedLink([(None, b"abcde")], chunk=2, hang_up_at_end=True)
    assert [link.read(0.0) for _ in range(3)] == [b"ab", b"cd", b"e"]
    with pytest.raises(ConnectionLost):
        link.read(0.0)
