"""Property tests (hypothesis): the fast paths of ``parse_frame`` and ``parse_records`` accept exactly what
the rules accept and return what the rules return.

References are written from the standards, not from the code under test: a frame is valid iff it is
``<STX> FN text <ETB|ETX> C1 C2 <CR><LF>`` with FN 0-7, at most 247 bytes, no restricted byte in the text, and
C1C2 the uppercase hex of sum(FN … ETB/ETX) mod 256 (LIS01-A2 §8.3); records are split at CR and each H
record sets the delimiters for itself and what follows (LIS02-A2 §6, H.2).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.codecs.astm.frames import MAX_FRAME, RESTRICTED, Frame, build_frames, checksum, parse_frame
from drivers.codecs.astm.records import DEFAULT_DELIMITERS, Delimiters, parse_record, parse_records
from drivers.codecs.checksums import sum8
from drivers.errors import ChecksumError, FieldError, FramingError, ProtocolError

MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CLEAN = bytes(b if b not in RESTRICTED else 0x78 for b in range(256))  # restricted bytes → "x"


def reference_frame(raw: bytes) -> tuple[int, bytes, bool] | None:
    """(FN, text, final) of a valid frame per LIS01-A2 §8.3, else None."""
    n = len(raw)
    if not 7 <= n <= MAX_FRAME or raw[0] != 0x02 or raw[-2:] != b"\r\n" or raw[-5] not in (0x03, 0x17):
        return None
    if not 0x30 <= raw[1] <= 0x37 or any(b in RESTRICTED for b in raw[2:-5]):
        return None
    if raw[-4:-2] != b"%02X" % sum8(raw[1:-4]):
        return None
    return raw[1] - 0x30, raw[2:-5], raw[-5] == 0x03


@st.composite
def candidate_frames(draw) -> bytes:
    """Frames near the valid set: each part right or wrong, lengths around the 247-byte limit."""
    text = draw(st.binary(max_size=MAX_FRAME))
    if draw(st.booleans()):
        text = text.translate(_CLEAN)
    fn = draw(st.one_of(st.integers(0x30, 0x37), st.integers(0, 255)))
    marker = draw(st.one_of(st.sampled_from([0x03, 0x17]), st.integers(0, 255)))
    body = bytes((fn,)) + text + bytes((marker,))
    good = b"%02X" % (sum(body) & 0xFF)
    digits = draw(st.one_of(st.just(good), st.just(good.lower()), st.binary(min_size=0, max_size=3)))
    end = draw(st.one_of(st.just(b"\r\n"), st.binary(max_size=3)))
    start = draw(st.one_of(st.just(b"\x02"), st.binary(max_size=2)))
    raw = start + body + digits + end
    if raw and draw(st.booleans()):  # flip one bit somewhere
        bit = draw(st.integers(0, len(raw) * 8 - 1))
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        raw = bytes(flipped)
    return raw


@MANY
@given(candidate_frames())
def test_parse_frame_matches_the_rules(raw):
    want = reference_frame(raw)
    if want is None:
        with pytest.raises((FramingError, ChecksumError)) as caught:
            parse_frame(raw, offset=1000)
        assert 1000 <= caught.value.offset < 1000 + max(len(raw), 1)
    else:
        frame = parse_frame(raw, offset=1000)
        assert type(frame) is Frame and type(frame.text) is bytes
        assert (frame.number, frame.text, frame.final) == want
        assert frame.raw is raw and frame.offset == 1000


@MANY
@given(st.binary(max_size=241).map(lambda t: t.translate(_CLEAN)), st.integers(0, 7), st.booleans())
def test_built_frames_parse_and_checksum_agrees_with_sum8(text, number, final):
    frame = build_frames([text], first_number=number)[0] if final and len(text) < 240 else None
    if frame is not None:
        assert parse_frame(frame).text == text + b"\r"
    body = b"%d" % number + text[:240] + (b"\x03" if final else b"\x17")
    raw = b"\x02" + body + checksum(body) + b"\r\n"
    assert checksum(body) == b"%02X" % sum8(body)
    assert parse_frame(raw) == (number, text[:240], final, raw, 0)


def test_parse_frame_accepts_bytearray_via_the_detailed_path():
    raw = build_frames([b"R|1|^^^x|1"])[0]
    assert parse_frame(bytearray(raw)) == parse_frame(raw)


def test_parse_frame_longest_frame_of_ff_bytes():
    """Largest byte sum a frame can have: the Adler-32 shortcut must still be exact."""
    body = b"7" + b"\xff" * 240 + b"\x03"
    raw = b"\x02" + body + checksum(body) + b"\r\n"
    assert len(raw) == MAX_FRAME and parse_frame(raw).text == b"\xff" * 240
    with pytest.raises(ChecksumError):
        parse_frame(raw[:-4] + (b"00" if raw[-4:-2] != b"00" else b"01") + b"\r\n")


@pytest.mark.parametrize("size", [241, 300, 1000])
def test_parse_frame_rejects_overlong_frames_with_good_checksums(size):
    body = b"1" + b"\xff" * size + b"\x03"
    raw = b"\x02" + body + checksum(body) + b"\r\n"
    with pytest.raises(FramingError, match="longer than 247"):
        parse_frame(raw, offset=5)


def reference_records(data: bytes) -> tuple[list, Delimiters]:
    """Records split at CR; an H record sets the delimiters for itself and what follows."""
    d = DEFAULT_DELIMITERS
    out = []
    for line in data.decode("latin-1").split("\r"):
        if line:
            if line[0] == "H":
                d = Delimiters.from_header(line)
            out.append(parse_record(line, d))
    return out, d


RECORD_LINES = st.sampled_from([
    "", "H|\\^&|||GC-2030", "H!~@$!!!LC", "H|\\^", "H|||||", "Hx", "P|1", "O|1|S-1||^^^OP", "R|1|^^^a^b|0.1|mg",
    "R!1!~~~dim!0,2", "L|1|N", "C|1|a&F&b", "|", "é|ü\\ß^&", "Q", "RH|x",
])


@MANY
@given(st.lists(RECORD_LINES, max_size=8), st.booleans())
def test_parse_records_matches_the_rules(lines, trailing_cr):
    data = ("\r".join(lines) + ("\r" if trailing_cr else "")).encode("latin-1")
    try:
        want = reference_records(data)
    except FieldError as exc:
        with pytest.raises(FieldError) as caught:
            parse_records(data)
        assert (str(caught.value), caught.value.offset) == (str(exc), exc.offset)
        return
    got = parse_records(data)
    assert got == want
    assert all(type(r) is type(w) and r.delimiters == w.delimiters for r, w in zip(got[0], want[0], strict=True))


def test_parse_records_keeps_given_delimiters_without_header():
    d = Delimiters("!", "~", "@", "$")
    records, final = parse_records(b"R!1!~~~x!2\rL!1", delimiters=d)
    assert final is d and [r.fields for r in records] == [("R", "1", "~~~x", "2"), ("L", "1")]


def test_protocol_errors_are_typed():
    with pytest.raises(ProtocolError):
        parse_frame(b"\x021R|1\r\x03ZZ\r\n")
