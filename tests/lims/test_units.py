"""lims.units: the one mass-fraction table (mg/kg ↔ µg/kg, every spelling, typed error)."""

from __future__ import annotations

import pytest

from lims import units
from lims.units import UnitError, canonical_unit, convert, from_mg_per_kg, to_mg_per_kg

MICRO_SIGN, GREEK_MU = "\u00b5g/kg", "\u03bcg/kg"
MICRO_SPELLINGS = [MICRO_SIGN, GREEK_MU, "ug/kg"]


@pytest.mark.parametrize("unit", MICRO_SPELLINGS)
def test_every_micro_spelling_is_the_canonical_micro_sign(unit: str) -> None:
    assert canonical_unit(unit) == MICRO_SIGN
    assert canonical_unit(f"  {unit} ") == MICRO_SIGN
    assert units.is_mass_fraction(unit)


@pytest.mark.parametrize("unit", MICRO_SPELLINGS)
def test_conversions_both_ways(unit: str) -> None:
    assert to_mg_per_kg(100, unit) == 0.1  # the double of the literal, not 0.10000000000000002
    assert to_mg_per_kg(152, unit) == 0.152
    assert from_mg_per_kg(0.152, unit) == 152.0
    assert from_mg_per_kg(1.001, unit) == 1001.0  # 1.001 * 1000 is 1000.9999999999999 in binary
    assert convert(1001.0, unit, "mg/kg") == 1.001
    assert convert(0.5, unit, MICRO_SIGN) == 0.5
    assert to_mg_per_kg(from_mg_per_kg(0.0123, unit), unit) == 0.0123


def test_mg_per_kg_is_the_identity() -> None:
    assert to_mg_per_kg(0.3, "mg/kg") == 0.3 and from_mg_per_kg(0.3, "mg/kg") == 0.3
    assert units.exponent("mg/kg", MICRO_SIGN) == 3 and units.exponent("ug/kg", "mg/kg") == -3


def test_case_and_inner_blanks_only_when_asked() -> None:
    assert canonical_unit("MG / KG", ignore_case=True) == "mg/kg"
    assert canonical_unit("UG/KG", ignore_case=True) == MICRO_SIGN
    with pytest.raises(UnitError):
        canonical_unit("MG/KG")
    assert not units.is_mass_fraction("MG/KG")


@pytest.mark.parametrize("unit", ["g/kg", "mg/L", "ppb", "%", ""])
def test_unknown_unit_is_a_typed_error_naming_it(unit: str) -> None:
    with pytest.raises(UnitError) as err:
        to_mg_per_kg(1.0, unit)
    assert err.value.unit == unit and repr(unit) in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(UnitError):
        from_mg_per_kg(1.0, unit)
    assert not units.is_mass_fraction(unit)
