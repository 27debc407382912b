"""Reconnect delays: capped exponential backoff with full jitter.

The delay before attempt ``n`` (0-based) is drawn uniformly from ``[0, min(cap, base · factor**n)]``
("full jitter", M. Brooker, *Exponential Backoff And Jitter*, AWS Architecture Blog, 2015): a crowd of
clients that lost the same link do not retry in lock-step, and no client waits longer than ``cap``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.errors import TransportError


@dataclass(frozen=True)
class Backoff:
    """Policy: ``base_s`` first ceiling, multiplied by ``factor`` per failed attempt, capped at ``cap_s``."""

    base_s: float = 0.2
    cap_s: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s or self.factor < 1.0:
            raise ValueError(f"backoff needs 0 < base_s <= cap_s and factor >= 1, got {self}")

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay before attempt ``attempt`` (0-based)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # guard the power against overflow: once past the cap it stays at the cap
        exp = min(attempt, 64)
        return min(self.cap_s, self.base_s * self.factor ** exp)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A full-jitter delay for attempt ``attempt``: uniform in ``[0, ceiling(attempt)]``."""
        return (rng or random).uniform(0.0, self.ceiling(attempt))


@dataclass
class Retrier:
    """Counts consecutive failures of one link and sleeps the jittered delay (interruptible by ``stop``)."""

    policy: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def failed(self, stop: threading.Event | None = None) -> float:
        """Record a failure and wait the next delay; returns the delay waited (cut short by ``stop``)."""
        wait = self.policy.delay(self.attempt, self.rng)
        self.attempt += 1
        if stop is not None:
            stop.wait(wait)
        else:
            threading.Event().wait(wait)
        return wait

    def succeeded(self) -> None:
        """The link works again: the next failure starts from the first delay."""
        self.attempt = 0

    def until_open(self, open_once: Callable[[], None], stop: threading.Event | None = None) -> bool:
        """Call ``open_once`` until it stops raising TransportError, backing off between attempts;
        False if ``stop`` was set first."""
        while stop is None or not stop.is_set():
            try:
                open_once()
            except TransportError:
                self.failed(stop)
                continue
            self.succeeded()
            return True
        return False
