"""A stored curve record inverts to exactly the numbers of the fit it was made from, survives JSON, and
refuses malformed records with the field named (calibration.stored)."""

from __future__ import annotations

import json

import pytest

from calibration.curves import fit_curve, inverse_predict
from calibration.errors import CalibrationError
from calibration.stored import fit_digest, from_stored, invert_stored, stored_fit
from calibration.strategies import standard_addition, standard_addition_from_fit

LEVELS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
AREAS = [560.0, 1071.0, 2611.0, 5250.0, 10480.0, 26010.0]


@pytest.mark.parametrize(("model", "weight"), [("linear", "none"), ("linear", "1/x"), ("quadratic", "1/x2"),
                                               ("linear-origin", "none"), ("avg-rf", "none")])
def test_stored_record_inverts_exactly_like_the_fit(model: str, weight: str) -> None:
    fit = fit_curve(LEVELS, AREAS, model=model, weight=weight)
    record = json.loads(json.dumps(stored_fit(fit)))  # through the database's JSON
    for response in (900.0, 5000.0, 20000.0):
        a = inverse_predict(fit, response)
        b = invert_stored(record, response)
        assert (b.concentration, b.stderr, b.ci_low, b.ci_high) == (a.concentration, a.stderr, a.ci_low, a.ci_high)
    assert from_stored(record).covariance == fit.covariance
    assert record["levels"] == LEVELS


def test_stored_record_is_independent_of_a_refit() -> None:
    record = stored_fit(fit_curve(LEVELS, AREAS))
    other = stored_fit(fit_curve(LEVELS, [a * 1.1 for a in AREAS]))
    assert invert_stored(record, 5000.0).concentration != invert_stored(other, 5000.0).concentration
    assert fit_digest(record) != fit_digest(other)
    assert fit_digest(record) == fit_digest(json.loads(json.dumps(record)))


@pytest.mark.parametrize(("key", "bad"), [("format", 99), ("model", "cubic"), ("params", [1.0]),
                                          ("covariance", [[1.0]]), ("dof", 7), ("responses", [1.0, "x"]),
                                          ("param_names", ["slope", "intercept"]), ("weight", "1/z")])
def test_malformed_record_is_refused_with_its_field(key: str, bad: object) -> None:
    record = stored_fit(fit_curve(LEVELS, AREAS))
    record[key] = bad
    with pytest.raises(CalibrationError) as err:
        from_stored(record)
    assert err.value.field == key


def test_standard_addition_from_stored_fit_matches_the_direct_computation() -> None:
    # Miller & Miller §5.9 silver example (tests/calibration/test_strategies.py)
    added, absorb = [0, 5, 10, 15, 20, 25, 30], [0.32, 0.41, 0.52, 0.60, 0.70, 0.77, 0.89]
    direct = standard_addition(added, absorb)
    via = standard_addition_from_fit(from_stored(json.loads(json.dumps(stored_fit(direct.fit)))))
    assert (via.concentration, via.stderr, via.ci_low) == (direct.concentration, direct.stderr, direct.ci_low)
    with pytest.raises(CalibrationError):
        standard_addition_from_fit(fit_curve(added, absorb, weight="1/y"))
