"""Mass-fraction units: one table, one convention, one place.

Every unit is stored as the power of ten of one of it in mg/kg (1 µg/kg = 10⁻³ mg/kg: SI prefixes
milli = 10⁻³, micro = 10⁻⁶), and a value is moved between units by scaling its shortest decimal text
(:func:`convert`), so 1.001 mg/kg gives 1001.0 µg/kg (binary multiplication gives
1000.9999999999999) and 100 µg/kg gives exactly the double of the literal 0.1 mg/kg.

Spellings: ``mg/kg``; ``µg/kg`` (U+00B5 MICRO SIGN, the canonical spelling), ``μg/kg`` (U+03BC
GREEK SMALL LETTER MU) and ``ug/kg``. Lookups are exact (after stripping surrounding blanks) unless
``ignore_case=True``, which also drops inner blanks: the lab-maintained limit CSV accepts ``MG / KG``,
a PT submission does not (its refusal is part of the PT contract).
"""

from __future__ import annotations

import re
from decimal import Decimal

MG_PER_KG = "mg/kg"
UG_PER_KG = "µg/kg"  # U+00B5 MICRO SIGN

#: Canonical unit → power of ten of one of it in mg/kg.
EXPONENT_IN_MG_PER_KG: dict[str, int] = {MG_PER_KG: 0, UG_PER_KG: -3}

#: Accepted spelling → canonical unit.
SPELLINGS: dict[str, str] = {
    "mg/kg": MG_PER_KG,
    "µg/kg": UG_PER_KG,  # micro sign U+00B5
    "μg/kg": UG_PER_KG,  # Greek small mu U+03BC
    "ug/kg": UG_PER_KG,
}
_FOLDED = {spelling.casefold(): canonical for spelling, canonical in SPELLINGS.items()}


class UnitError(ValueError):
    """A unit that is not a mass fraction known here; ``unit`` is the text as given."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        super().__init__(f"unknown unit {unit!r}; allowed: mg/kg, µg/kg (also μg/kg, ug/kg)")


def canonical_unit(unit: str, *, ignore_case: bool = False) -> str:
    """The canonical spelling (``mg/kg`` or ``µg/kg``) of an accepted spelling; :class:`UnitError` otherwise."""
    if ignore_case:
        found = _FOLDED.get(re.sub(r"\s+", "", unit).casefold())
    else:
        found = SPELLINGS.get(unit.strip())
    if found is None:
        raise UnitError(unit)
    return found


def is_mass_fraction(unit: str) -> bool:
    """True when ``unit`` is one of :data:`SPELLINGS` (exact, blanks around it ignored)."""
    return unit.strip() in SPELLINGS


def exponent(from_unit: str, to_unit: str) -> int:
    """Power of ten that takes a value in ``from_unit`` to ``to_unit`` (µg/kg → mg/kg: −3)."""
    return EXPONENT_IN_MG_PER_KG[canonical_unit(from_unit)] - EXPONENT_IN_MG_PER_KG[canonical_unit(to_unit)]


def scale_decimal(value: float, power: int) -> float:
    """``value`` × 10^power computed on its shortest decimal text (exact, no binary rounding drift)."""
    if power == 0:
        return float(value)
    return float(Decimal(repr(float(value))).scaleb(power))


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``; :class:`UnitError` names an unknown unit."""
    return scale_decimal(value, exponent(from_unit, to_unit))


def to_mg_per_kg(value: float, unit: str) -> float:
    """A mass fraction in ``unit`` in mg/kg."""
    return convert(value, unit, MG_PER_KG)


def from_mg_per_kg(value_mg_kg: float, unit: str) -> float:
    """A mass fraction in mg/kg expressed in ``unit``."""
    return convert(value_mg_kg, MG_PER_KG, unit)
