"""Throttling of password guesses (logins and e-signatures) in memory, and the record of failures
written in batches off the request path.

Why in memory: a failed login used to be committed at once (one write transaction per failure), so a
login flood queued every request behind SQLite's single write lock ("database is locked" after 10 s)
and, on PostgreSQL, behind the audit chain's lock. Here a failure costs a dictionary update; the
failures are written to ``login_failure`` by :class:`FailureLog`, a few at a time, every
:data:`FLUSH_INTERVAL_S` by a background thread of the API process (``FailureLog.start``).

Why backoff and no lock (NIST SP 800-63B §5.2.2 "rate limiting"; OWASP Authentication Cheat Sheet,
"account lockout"): five wrong passwords used to lock an account for 15 minutes, so anyone could lock
anyone out. Now each key — the client address, the account from that address, the account from any
address — may fail ``free`` times; after that every further failure doubles the wait
(``base_s · 2^(failures − free)``, at most ``cap_s``), and attempts during the wait are refused (429 with
Retry-After) without looking at the password and without counting. The wait always ends; a correct
password after it always works. A key is forgotten :data:`FORGET_AFTER_S` after its last failure, or on
success.

Scope: each API worker process keeps its own counters, so with N workers an attacker gets up to N times
the free attempts before the first wait; the waits themselves apply per worker. Behind a reverse proxy
the client address is the proxy's unless uvicorn is told to trust its X-Forwarded-For
(``--forwarded-allow-ips``), which ``lims serve`` does not do by default.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
import unicodedata
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lims.clock import utcnow

log = logging.getLogger(__name__)

#: A key with no failure for this long starts afresh (the old sliding window of the login throttle).
FORGET_AFTER_S = 15 * 60.0
#: How often the API process writes the failures it has buffered.
FLUSH_INTERVAL_S = 2.0
#: Most keys one throttle keeps; past it, the keys idle longest are forgotten first.
MAX_KEYS = 100_000
#: Most failures buffered before a write; past it, further ones are counted, not stored.
MAX_BUFFERED = 10_000


@dataclass
class _Entry:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


@dataclass(frozen=True)
class Backoff:
    """``free`` failures, then a wait of ``base_s · 2^(failures − free)`` seconds, at most ``cap_s``."""

    free: int
    base_s: float
    cap_s: float

    def wait_s(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        exponent = min(failures - self.free, 40)
        return float(min(self.cap_s, self.base_s * 2.0 ** exponent))


class Throttle:
    """Failures per key with exponential backoff (thread-safe)."""

    def __init__(self, backoff: Backoff, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff = backoff
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}

    def retry_after_s(self, key: Hashable) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return 0.0
            if now - entry.last_failure > FORGET_AFTER_S and entry.blocked_until <= now:
                del self._entries[key]
                return 0.0
            return max(0.0, entry.blocked_until - now)

    def failure(self, key: Hashable) -> None:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or now - entry.last_failure > FORGET_AFTER_S:
                if len(self._entries) >= MAX_KEYS:
                    self._prune(now)
                entry = self._entries[key] = _Entry()
            entry.failures += 1
            entry.last_failure = now
            entry.blocked_until = now + self.backoff.wait_s(entry.failures)

    def success(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _prune(self, now: float) -> None:
        stale = [k for k, e in self._entries.items() if now - e.last_failure > FORGET_AFTER_S]
        for k in stale:
            del self._entries[k]
        if len(self._entries) >= MAX_KEYS:
            oldest = sorted(self._entries.items(), key=lambda kv: kv[1].last_failure)
            for k, _ in oldest[: len(oldest) // 10 or 1]:
                del self._entries[k]


def _account_key(account: str) -> str:
    """One key per account however it is typed (ｚｈａｎｇｗｅｉ, ZhangWei, zhangwei): as accounts are found."""
    return unicodedata.normalize("NFKC", account).strip().casefold()


@dataclass
class PasswordGuard:
    """The three throttles of a password check: per client address, per account from that address, per
    account from anywhere. ``retry_after_s`` is the longest of the waits that apply."""

    per_address: Throttle
    per_account_address: Throttle
    per_account: Throttle

    @classmethod
    def for_logins(cls, account_free: int = 5, *, clock: Callable[[], float] = time.monotonic) -> PasswordGuard:
        free = max(1, account_free)
        return cls(Throttle(Backoff(free=2 * free, base_s=1.0, cap_s=300.0), clock=clock),
                   Throttle(Backoff(free=free, base_s=1.0, cap_s=900.0), clock=clock),
                   # from any address: never more than a minute's wait, so nobody can keep an account shut
                   Throttle(Backoff(free=4 * free, base_s=1.0, cap_s=60.0), clock=clock))

    @classmethod
    def for_signatures(cls, *, clock: Callable[[], float] = time.monotonic) -> PasswordGuard:
        return cls(Throttle(Backoff(free=10, base_s=1.0, cap_s=300.0), clock=clock),
                   Throttle(Backoff(free=3, base_s=1.0, cap_s=300.0), clock=clock),
                   Throttle(Backoff(free=10, base_s=1.0, cap_s=60.0), clock=clock))

    def retry_after_s(self, account: str, address: str) -> int:
        account = _account_key(account)
        wait = max(self.per_address.retry_after_s(address) if address else 0.0,
                   self.per_account_address.retry_after_s((account, address)),
                   self.per_account.retry_after_s(account))
        return math.ceil(wait) if wait > 0 else 0

    def failure(self, account: str, address: str) -> None:
        account = _account_key(account)
        if address:
            self.per_address.failure(address)
        self.per_account_address.failure((account, address))
        self.per_account.failure(account)

    def success(self, account: str, address: str) -> None:
        account = _account_key(account)
        self.per_account_address.success((account, address))
        self.per_account.success(account)


class PasswordGate:
    """At most ``running`` password checks at once in this process and at most ``queued`` waiting; one
    more is refused at once. argon2 is CPU- and memory-bound on purpose: without the gate a flood of logins
    with made-up usernames (each costs a full verification) held every request thread, and /auth/me
    waited seconds behind them."""

    def __init__(self, running: int = 1, queued: int = 2) -> None:
        self._slots = threading.BoundedSemaphore(running)
        self._limit = running + queued
        self._lock = threading.Lock()
        self._inside = 0

    def enter(self) -> bool:
        """Take a place (False: full, refuse); then :meth:`run`."""
        with self._lock:
            if self._inside >= self._limit:
                return False
            self._inside += 1
            return True

    def run(self, fn: Callable[[], Any]) -> Any:
        try:
            with self._slots:
                return fn()
        finally:
            with self._lock:
                self._inside -= 1


@dataclass(frozen=True)
class Failure:
    username: str
    remote: str
    at: dt.datetime
    purpose: str  # "login" | "signature"


@dataclass
class FailureLog:
    """Failures buffered in memory and written to ``login_failure`` in one transaction per flush."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _buffer: list[Failure] = field(default_factory=list)
    dropped: int = 0
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def add(self, username: str, remote: str, purpose: str, at: dt.datetime | None = None) -> None:
        with self._lock:
            if len(self._buffer) >= MAX_BUFFERED:
                self.dropped += 1
                return
            self._buffer.append(Failure(username[:60], remote[:60], at or utcnow(), purpose))

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def flush(self, factory: sessionmaker[Session]) -> int:
        """Write what is buffered (one unit of work); on a database error the failures are kept."""
        from lims.db.engine import session_scope
        from lims.db.models import LoginFailure

        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return 0
        try:
            with session_scope(factory, actor="system:auth", reason="failed password checks") as s:
                s.add_all([LoginFailure(username=f.username, remote=f.remote, at=f.at, purpose=f.purpose)
                           for f in batch])
        except Exception:  # the database is away: keep them for the next flush
            log.warning("could not write %d failed password checks; kept for the next attempt", len(batch),
                        exc_info=True)
            with self._lock:
                self._buffer[:0] = batch[: MAX_BUFFERED - len(self._buffer)]
            return 0
        return len(batch)

    def start(self, factory: sessionmaker[Session], interval_s: float = FLUSH_INTERVAL_S) -> None:
        """Flush every ``interval_s`` in a daemon thread (the API process; idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval_s):
                self.flush(factory)

        self._thread = threading.Thread(target=run, name="lims-failure-log", daemon=True)
        self._thread.start()

    def stop(self, factory: sessionmaker[Session]) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.flush(factory)


#: The process's failure log (one per API worker process; the guards below likewise).
FAILURES = FailureLog()


#: The process's gate in front of login password checks (api.auth_routes).
LOGIN_GATE = PasswordGate()


@lru_cache(maxsize=1)
def signature_guard() -> PasswordGuard:
    """The process's e-signature guard."""
    return PasswordGuard.for_signatures()


@lru_cache(maxsize=1)
def login_guard() -> PasswordGuard:
    """The process's login guard (``LIMS_LOGIN_MAX_FAILURES`` free failures per account and address)."""
    from lims.config import get_settings

    return PasswordGuard.for_logins(get_settings().login_max_failures)


def reset() -> None:
    """Forget every counter and buffered failure (tests; a new process starts like this)."""
    login_guard.cache_clear()
    signature_guard.cache_clear()
    with FAILURES._lock:
        FAILURES._buffer.clear()
        FAILURES.dropped = 0
