"""Property tests (hypothesis) for every codec: arbitrary bytes raise only typed ProtocolErrors, never
hang, and a corrupted frame/line never yields a result. Single-bit corruption is used for the "never a
result" properties because XOR-8 and the ASTM mod-256 sum detect every single-bit error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.codecs.astm.capture import decode_capture
from drivers.codecs.astm.frames import FrameScanner, build_frames, parse_frame
from drivers.codecs.astm.link import AstmLink, FrameAccepted
from drivers.codecs.line import LineDecoder, LineRecord, encode_line, parse_line
from drivers.errors import ProtocolError
from drivers.profiles import load_profile

FAST = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
PROFILE = load_profile("enzyme_ascii_16ch")
ASTM_RECORDS = [b"H|\\^&|||GC", b"O|1|S-1", b"R|1|^^^chlorpyrifos|0.012|mg/kg||N||F", b"L|1|N"]


def line_stream():
    lines = [encode_line(PROFILE, "RUN", ["5", "2024-05-20 09:30:00", "2"]),
             encode_line(PROFILE, "CH", ["5", "00", "CONTROL", "0.9000", "0.4000", "0.0"]),
             encode_line(PROFILE, "CH", ["5", "01", "S-1", "0.9000", "0.7000", "60.0"]),
             encode_line(PROFILE, "END", ["5", "2"])]
    return lines


@FAST
@given(st.binary(max_size=400))
def test_parse_line_arbitrary_bytes(data):
    try:
        parse_line(PROFILE, data)
    except ProtocolError:
        pass


@FAST
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_line_decoder_arbitrary_chunks(chunks):
    dec = LineDecoder(PROFILE)
    for chunk in chunks:
        dec.feed(chunk)
    dec.flush()


@FAST
@given(st.data())
def test_line_single_bit_error_never_accepted(data):
    lines = line_stream()
    stream = b"".join(lines)
    bit = data.draw(st.integers(0, len(stream) * 8 - 1))
    corrupt = bytearray(stream)
    corrupt[bit // 8] ^= 1 << (bit % 8)
    originals = {parse_line(PROFILE, x).__repr__() for x in lines}
    events = LineDecoder(PROFILE).feed(bytes(corrupt))
    accepted = [e for e in events if isinstance(e, LineRecord)]
    assert all(repr(e) in originals for e in accepted)
    assert len(accepted) <= len(lines) - 1 or bytes(corrupt) == stream


@FAST
@given(st.binary(max_size=300))
def test_parse_frame_arbitrary_bytes(data):
    try:
        parse_frame(b"\x02" + data)
    except ProtocolError:
        pass


@FAST
@given(st.lists(st.binary(max_size=120), max_size=8))
def test_scanner_and_capture_arbitrary_chunks(chunks):
    scanner = FrameScanner()
    fed = 0
    for chunk in chunks:
        tokens = scanner.feed(chunk)
        fed += len(chunk)
        assert scanner.pending <= 247 and all(hasattr(t, "offset") for t in tokens)
    scanner.flush()
    decode_capture(b"".join(chunks))


@FAST
@given(st.lists(st.tuples(st.binary(max_size=60), st.booleans()), max_size=10))
def test_link_arbitrary_bytes(steps):
    link = AstmLink("computer")
    now = 0.0
    for data, ack in steps:
        now += 1.0
        link.feed(data, now)
        if ack and link.state == "awaiting-ack":
            link.ack(now)
        link.data_to_send()


@FAST
@given(st.data())
def test_astm_single_bit_error_never_decoded(data):
    frames = build_frames(ASTM_RECORDS)
    capture = b"\x05" + b"".join(frames) + b"\x04"
    bit = data.draw(st.integers(0, len(capture) * 8 - 1))
    corrupt = bytearray(capture)
    corrupt[bit // 8] ^= 1 << (bit % 8)
    for session in decode_capture(bytes(corrupt)):
        for result in session.results:
            assert (result.sample_id, result.test_code, result.value) == ("S-1", "chlorpyrifos", "0.012")
    # the live receiver, fed frame by frame and acknowledging each accepted frame
    link = AstmLink("computer")
    accepted, pos = [], 0
    for length in [1] + [len(f) for f in frames] + [1]:
        for event in link.feed(bytes(corrupt[pos:pos + length]), 1.0):
            if isinstance(event, FrameAccepted):
                accepted.append(event.frame.raw)
                link.ack(1.0)
        pos += length
    assert set(accepted) <= set(frames)


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_decoders_agree_across_chunkings(chunk):
    frames = build_frames(ASTM_RECORDS)
    capture = b"\x05\x06" + b"".join(f + b"\x06" for f in frames) + b"\x04"
    whole = decode_capture(capture)
    from drivers.codecs.astm.capture import CaptureDecoder
    dec = CaptureDecoder()
    parts = []
    for i in range(0, len(capture), chunk):
        parts += dec.feed(capture[i:i + chunk])
    parts += dec.close()
    assert [s.results for s in parts] == [s.results for s in whole]
