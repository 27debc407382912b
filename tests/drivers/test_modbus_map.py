"""Modbus register maps: word orders against the IEEE 754 encodings given in hardware-sim/PROTOCOLS.md (d)
(1.0 = 0x3F800000 → CDAB [0x0000, 0x3F80]; 35.8 = 0x420F3333 → [0x3333, 0x420F])."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs.modbus_map import block_span, decode_block, decode_register, encode_string
from drivers.errors import FieldError, ProfileError
from drivers.profiles import load_profile
from drivers.profiles._dialects import RegisterSpec

PROFILE = load_profile("modbus_photometric")
F32 = RegisterSpec("x", "input", 0, "float32", 2)


@pytest.mark.parametrize("order, regs", [("ABCD", [0x420F, 0x3333]), ("CDAB", [0x3333, 0x420F]),
                                         ("BADC", [0x0F42, 0x3333]), ("DCBA", [0x3333, 0x0F42])])
def test_float32_word_orders(order, regs):
    assert decode_register(F32, regs, order) == pytest.approx(35.8, abs=1e-5)


def test_cdab_one():
    assert decode_register(F32, [0x0000, 0x3F80], "CDAB") == 1.0


def test_int_types_and_scale():
    assert decode_register(RegisterSpec("t", "input", 0, "int16", 1, scale=0.1), [0xFF38]) == pytest.approx(-20.0)
    assert decode_register(RegisterSpec("n", "input", 0, "int32", 2), [0xFFFF, 0xFFFE], "ABCD") == -2
    assert decode_register(RegisterSpec("n", "input", 0, "uint32", 2), [0x0001, 0x0000], "CDAB") == 1


def test_input_block_of_the_analyzer():
    start, count = block_span(PROFILE, "input")
    assert (start, count) == (0, 20)
    regs = [0b1001, 0, 42, 0, 0x0000, 0x3F80, 0x3333, 0x420F, 0, 0, 0, 0x41C8] + encode_string("S2025031401", 8)
    values = decode_block(PROFILE, "input", start, regs)
    assert values["status"].value == {"ready": True, "busy": False, "lamp_fault": False, "result_available": True}
    assert values["result_counter"].value == 42
    assert values["absorbance"].value == 1.0
    assert values["inhibition_percent"].value == pytest.approx(35.8, abs=1e-5)
    assert values["cell_temperature_c"].value == 25.0  # 0x41C80000
    assert values["result_sample_id"].value == "S2025031401"


def test_wrong_register_count():
    with pytest.raises(FieldError):
        decode_register(F32, [1], "CDAB")


def test_profile_validation(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('[profile]\ndialect = "modbus"\n[modbus]\nword_order = "ACBD"\n'
                   'registers = [{name = "a", table = "input", address = 0, type = "uint16"}]\n')
    with pytest.raises(ProfileError, match="modbus.word_order"):
        load_profile(bad)


@settings(max_examples=100, deadline=2000)
@given(st.lists(st.integers(0, 0xFFFF), min_size=20, max_size=20))
def test_arbitrary_registers_only_typed_errors(regs):
    try:
        decode_block(PROFILE, "input", 0, regs)
    except FieldError:
        pass


def test_every_shipped_profile_loads():
    from drivers.profiles import available_profiles
    names = available_profiles()
    assert {"enzyme_ascii_16ch", "rapid_binary_16ch", "colloidal_gold_8lane", "modbus_photometric",
            "astm_gc_datasystem"} <= set(names)
    astm = load_profile("astm_gc_datasystem")
    assert (astm.dialect, astm.astm.role, astm.astm.tcp_port, astm.serial.baudrate) == ("astm", "computer", 5030,
                                                                                         9600)
