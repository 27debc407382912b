"""Interop with an independent implementation: python-astm (PyPI ``astm-2025``, import ``astm``).

Both directions on generated messages, including multi-frame records, escapes and latin-1 text. python-astm
is given bytes (its str path recurses). It does not resolve escapes, so its field texts are compared with
ours as written (escaped), and our unescaped values with the generated originals.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

astm_codec = pytest.importorskip("astm.codec")

from drivers.codecs.astm.capture import decode_capture  # noqa: E402
from drivers.codecs.astm.frames import build_frames, parse_frame  # noqa: E402
from drivers.codecs.astm.records import R_UNITS, Delimiters, encode_field, parse_record  # noqa: E402

D = Delimiters()
# latin-1 printable text, delimiters included (so escapes are exercised), no control characters
TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_categories=("Cc",)), max_size=12)
PLAIN = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_categories=("Cc",),
                              blacklist_characters="|\\^&"), min_size=1, max_size=12)
LONG = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF, blacklist_categories=("Cc",),
                             blacklist_characters="|\\^&"), min_size=230, max_size=700)


@st.composite
def results(draw):
    """(sample_id, test_code, value, units) rows for O/R records; some values are long (ETB frames)."""
    n = draw(st.integers(1, 4))
    return [(draw(PLAIN), draw(PLAIN), draw(st.one_of(TEXT, LONG)), draw(TEXT)) for _ in range(n)]


def our_message(rows):
    records = [b"H|\\^&|||LC-2030"]
    for i, (sample, code, value, units) in enumerate(rows, 1):
        records.append(f"O|{i}|{encode_field(sample, D)}".encode("latin-1"))
        records.append(f"R|1|{encode_field(['', '', '', code], D)}|{encode_field(value, D)}|"
                       f"{encode_field(units, D)}".encode("latin-1"))
    records.append(b"L|1|N")
    return records


@settings(max_examples=40, deadline=None)
@given(results())
def test_ours_to_python_astm(rows):
    frames = build_frames(our_message(rows))
    assert all(len(f) <= 247 for f in frames)
    # group frames per record (ETB … ETX) and let python-astm join, check and decode them
    decoded, chunk = [], []
    for frame in frames:
        chunk.append(frame)
        if frame[-5] == 0x03:
            message = astm_codec.join(chunk) if len(chunk) > 1 else chunk[0]
            assert astm_codec.make_checksum(message[1:-4]) == message[-4:-2]
            decoded += astm_codec.decode_message(message, "latin-1")[1]
            chunk = []
    r_records = [r for r in decoded if r[0] == "R"]
    o_records = [r for r in decoded if r[0] == "O"]
    for (sample, code, value, units), o_rec, r_rec in zip(rows, o_records, r_records, strict=True):
        assert o_rec[2] == D.escape_text(sample)
        assert r_rec[2] == [None, None, None, D.escape_text(code)]
        assert (r_rec[3] or "") == D.escape_text(value) and (r_rec[4] or "") == D.escape_text(units)


@settings(max_examples=40, deadline=None)
@given(results())
def test_python_astm_to_ours(rows):
    def b(text):
        return D.escape_text(text).encode("latin-1")

    py_records = [[b"H", None, None, None, b"LC-2030"]]
    for i, (sample, code, value, units) in enumerate(rows, 1):
        py_records.append([b"O", b"%d" % i, b(sample)])
        py_records.append([b"R", b"1", [None, None, None, b(code)], b(value), b(units)])
    py_records.append([b"L", b"1", b"N"])
    # python-astm's split() can put 240 characters plus the record's CR into its last chunk, i.e. a 248-byte
    # frame with size=247 (over the LIS01-A2 limit, which we reject); size=246 keeps it within 247.
    frames = list(astm_codec.iter_encode(py_records, "latin-1", size=246, seq=1))
    frames[0] = build_frames([b"H|\\^&|||LC-2030"])[0]  # python-astm cannot write the H.2 delimiter field
    for frame in frames:
        parse_frame(frame)  # checksum and framing agree
    capture = b"\x05\x06" + b"".join(f + b"\x06" for f in frames) + b"\x04"
    (session,) = decode_capture(capture)
    assert session.rejected == ()
    assert [(r.sample_id, r.test_code, r.value, r.units) for r in session.results] == rows


def test_fixed_latin1_message_both_ways():
    # µg/kg and ä are latin-1 single bytes; the value is long enough for two ETB frames
    value = "ä" * 500
    rec = f"R|1|^^^Clenbuterol|{value}|µg/kg||N||F".encode("latin-1")
    ours = build_frames([rec])
    assert len(ours) == 3 and all(len(f) <= 247 for f in ours)
    joined = astm_codec.join(ours)
    (py,) = astm_codec.decode_message(joined, "latin-1")[1]
    assert (py[2], py[3], py[4]) == ([None, None, None, "Clenbuterol"], value, "µg/kg")
    theirs = list(astm_codec.iter_encode([[b"R", b"1", [None, None, None, b"Clenbuterol"], value.encode("latin-1"),
                                           "µg/kg".encode("latin-1"), None, b"N", None, b"F"]],
                                         "latin-1", size=247, seq=1))
    assert theirs == ours
    assert parse_record(b"".join(parse_frame(f).text for f in theirs)[:-1].decode("latin-1")).value(R_UNITS) == "µg/kg"
