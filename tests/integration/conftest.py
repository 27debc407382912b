"""Fixtures shared by the integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

WaitUntil = Callable[[Callable[[], object], float], bool]


def _wait_until(cond: Callable[[], object], timeout_s: float) -> bool:
    """Poll ``cond`` every 50 ms until it is true or ``timeout_s`` passed; returns its last truth."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


@pytest.fixture
def wait_until() -> WaitUntil:
    """``wait_until(cond, timeout_s) -> bool``: a condition met by a device or a service thread, in time."""
    return _wait_until
