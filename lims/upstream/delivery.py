"""The delivery worker: signs each due outbox message (lims.upstream.signing), POSTs it to
``{hub}/hub/v1/messages`` with its Idempotency-Key and records the answer.

* 2xx: delivered, with the hub's receipt id (a re-sent message gets the stored receipt: the hub is
  idempotent, so a connection cut after the hub committed costs nothing but the re-send).
* no answer, 408/409/425/429, 5xx: retried after a full-jitter exponential delay (AWS Architecture Blog,
  "Exponential Backoff and Jitter", 2015: sleep = random(0, min(cap, base·2^attempt))), or after the
  hub's ``Retry-After`` (RFC 9110 §10.2.3: seconds or an HTTP-date) when it gives one.
* any other 4xx: dead letter, with the hub's reason (RFC 9457 problem+json ``detail``/``title``); a QA
  manager re-queues it (lims.upstream.queue.requeue, audited).
* per-sample ordering: a message is not due while an earlier message of the same sample is undelivered, so an
  amendment or retraction never overtakes its original.

Workers may run in several processes. A message is claimed in a short unit of work (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, SQLite's write lock) that counts the attempt and leases it; the requests run outside any
transaction. The lease follows each message, not the chunk: it is one request timeout plus LEASE_MARGIN_S
from the moment it is written, and before each request the worker checks that at least a timeout plus
LEASE_SLACK_S of it is left — if not, one short unit of work records the answers received so far and renews
the lease of the messages it has yet to send. So another worker never takes a message while its request may
still be running (a request bounded by the timeout), and a worker killed at any moment (kill -9) leaves its
messages due again within a timeout plus LEASE_MARGIN_S. A fast hub costs two units of work per chunk of
CLAIM_CHUNK messages (claim, record); a slow one at most one more per LEASE_MARGIN_S - LEASE_SLACK_S seconds.
The attempt count a claim took is the lease's fencing token: a worker whose lease lapsed (a request that
outlived it: a slow connect followed by a slow answer) writes no failure over the worker that took the message
over (a delivery it records: the hub holds the message), and the hub's idempotency absorbs the second send.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from drivers.transports.backoff import Backoff
from lims.clock import as_utc, utcnow
from lims.db.engine import session_scope
from lims.db.models import OutboxMessage
from lims.upstream.signing import sign_request
from lims.vocabulary import OutboxStatus
from lims.workflow import transition

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 300.0
MAX_ATTEMPTS = 12
MAX_RETRY_AFTER_S = 3600.0
RETRYABLE = frozenset({0, 408, 409, 425, 429})
WORKER_ACTOR = "worker:upstream"


def full_jitter_delay(attempt: int, *, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S,
                      rng: random.Random | None = None) -> float:
    """sleep = random(0, min(cap, base · 2^attempt)) (AWS "full jitter"; the drivers' reconnect policy)."""
    return Backoff(base_s=base, cap_s=cap, factor=2.0).delay(attempt, rng)


def retry_after_s(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3) in seconds: delay-seconds or an HTTP-date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, (when - (now or utcnow())).total_seconds()), MAX_RETRY_AFTER_S)


def hub_reason(resp: httpx.Response) -> str:
    """The hub's reason for a refusal: problem+json ``detail`` (else ``title``), naming its ``rule``."""
    try:
        doc: Any = resp.json()
    except ValueError:
        return resp.text[:500] or resp.reason_phrase
    if isinstance(doc, dict):
        text = doc.get("detail") or doc.get("title") or json.dumps(doc, ensure_ascii=False)
        rule = doc.get("rule")
        return f"{text} [{rule}]" if rule and str(rule) not in str(text) else str(text)
    return str(doc)[:500]


def receipt_of(resp: httpx.Response) -> str:
    try:
        doc: Any = resp.json()
    except ValueError:
        return ""
    value = doc.get("receipt", doc.get("receipt_id", "")) if isinstance(doc, dict) else ""
    return str(value)[:80]


@dataclass
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def due_ids(s: Session, *, limit: int, now: dt.datetime) -> list[int]:
    earlier = aliased(OutboxMessage)
    blocked = exists().where(and_(earlier.sample_code == OutboxMessage.sample_code, earlier.id < OutboxMessage.id,
                                  earlier.status != OutboxStatus.DELIVERED))
    q = (select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING,
                                        OutboxMessage.next_attempt_at <= now,
                                        (OutboxMessage.sample_code.is_(None)) | ~blocked)
         .order_by(OutboxMessage.id).limit(limit))
    return list(s.execute(q).scalars())


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, httpx.Response | None,
                                                                                         str]:
    try:
        resp = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return 0, None, f"{type(exc).__name__}: {exc}"[:500]
    return resp.status_code, resp, ""


def _record(msg: OutboxMessage, code: int, resp: httpx.Response | None, error: str, stats: DeliveryStats) -> bool:
    """Write the answer on the message; True when delivered."""
    if 200 <= code < 300 and resp is not None:
        transition(msg, OutboxStatus.DELIVERED)
        msg.delivered_at, msg.last_error, msg.receipt_id = utcnow(), "", receipt_of(resp)
        stats.delivered += 1
        return True
    reason = hub_reason(resp) if resp is not None else error
    msg.last_error = f"HTTP {code}: {reason}" if code else reason
    if code in RETRYABLE or code >= 500:
        if msg.attempts >= MAX_ATTEMPTS:
            transition(msg, OutboxStatus.DEAD)
            msg.last_error = f"gave up after {msg.attempts} attempts; last: {msg.last_error}"
            stats.dead += 1
            return False
        wait = retry_after_s(resp.headers.get("retry-after")) if resp is not None else None
        delay = wait if wait is not None else full_jitter_delay(msg.attempts)
        msg.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
        stats.retried += 1
        return False
    transition(msg, OutboxStatus.DEAD)  # the hub refused it for good: a person decides
    stats.dead += 1
    return False


#: Messages claimed and recorded per unit of work (two short transactions per chunk, not per message).
CLAIM_CHUNK = 20
#: A message is leased for one request timeout plus this (seconds): how long its messages wait after a worker
#: is killed. The lease is renewed before a request when less than a timeout plus LEASE_SLACK_S is left.
LEASE_MARGIN_S = 5.0
LEASE_SLACK_S = 1.0


@dataclass(frozen=True)
class Claim:
    """A message a worker holds: what it sends, and ``attempt``, the attempt count its claim took (the
    lease's fencing token: another claim of the message counts another attempt)."""

    id: int
    body: bytes
    idempotency_key: str
    attempt: int


def _claim(factory: sessionmaker[Session], ids: list[int], *, lease_s: float) -> list[Claim]:
    """Take messages for one attempt in a short unit of work (no transaction stays open over the network:
    SQLite's write lock would stall the API): count the attempt and lease each for ``lease_s``, so another
    worker leaves them alone. Messages another worker holds, or no longer due, are left out."""
    claimed = []
    with session_scope(factory, actor=WORKER_ACTOR) as s:
        msgs = s.execute(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
                         .with_for_update(skip_locked=True)).scalars()
        now = utcnow()
        for msg in msgs:
            if msg.status != OutboxStatus.PENDING or as_utc(msg.next_attempt_at) > now:
                continue
            msg.attempts += 1
            msg.next_attempt_at = now + dt.timedelta(seconds=lease_s)
            claimed.append(Claim(msg.id, msg.payload.encode(), msg.idempotency_key, msg.attempts))
    return claimed


Answer = tuple[int, httpx.Response | None, str]


def _settle(factory: sessionmaker[Session], answers: dict[int, Answer], renew: list[int], tokens: dict[int, int],
            *, lease_s: float, stats: DeliveryStats) -> set[int]:
    """One short unit of work: record the answers received, and lease the messages of ``renew`` (still to
    send) for ``lease_s`` again. Either only while the message is still this worker's (pending, with the
    attempt count of its claim, ``tokens``) — but a 2xx is recorded whoever holds the message: the hub has
    it. The ids of ``renew`` it still holds."""
    held: set[int] = set()
    with session_scope(factory, actor=WORKER_ACTOR) as s:
        if answers:
            for msg in s.execute(select(OutboxMessage).where(OutboxMessage.id.in_(list(answers)))
                                 .order_by(OutboxMessage.id).with_for_update()).scalars():
                code = answers[msg.id][0]
                if msg.status != OutboxStatus.PENDING:
                    continue
                if msg.attempts == tokens[msg.id] or 200 <= code < 300:  # (the hub holds it, whoever sent it)
                    _record(msg, *answers[msg.id], stats)
                else:  # the lease lapsed and another worker took the message over: its answer counts
                    log.info("outbox message %s: answer not recorded, another worker holds it", msg.id)
        if renew:
            until = utcnow() + dt.timedelta(seconds=lease_s)
            for msg in s.execute(select(OutboxMessage).where(OutboxMessage.id.in_(renew))
                                 .order_by(OutboxMessage.id).with_for_update(skip_locked=True)).scalars():
                if msg.status == OutboxStatus.PENDING and msg.attempts == tokens[msg.id]:
                    msg.next_attempt_at = until
                    held.add(msg.id)
    return held


def request_timeout_s(client: httpx.Client) -> float:
    """The longest a phase of one request may wait (connect, send, answer): the client's timeout."""
    phases = (client.timeout.connect, client.timeout.write, client.timeout.read)
    return max((float(t) for t in phases if t is not None), default=30.0)


def _deliver_chunk(factory: sessionmaker[Session], client: httpx.Client, key: Ed25519PrivateKey, ids: list[int],
                   *, url: str, lab_code: str, stats: DeliveryStats) -> None:
    """Claim ``ids``, POST each, record the answers. Before a request, a lease with less than a timeout plus
    LEASE_SLACK_S left is renewed (with the answers so far recorded) for the messages not yet sent."""
    timeout = request_timeout_s(client)
    lease_s = timeout + LEASE_MARGIN_S
    leased_at = time.monotonic()  # taken before the claim's unit of work: the lease runs at least this long
    todo = _claim(factory, ids, lease_s=lease_s)
    tokens = {c.id: c.attempt for c in todo}
    answers: dict[int, Answer] = {}
    while todo:
        if leased_at + lease_s - time.monotonic() < timeout + LEASE_SLACK_S:
            leased_at = time.monotonic()
            held = _settle(factory, answers, [c.id for c in todo], tokens, lease_s=lease_s, stats=stats)
            answers = {}
            todo = [c for c in todo if c.id in held]
            if not todo:
                break
        msg = todo.pop(0)
        headers = sign_request(key, msg.body, lab_code=lab_code, idempotency_key=msg.idempotency_key)
        answers[msg.id] = _post(client, url, msg.body, headers)
    if answers:
        _settle(factory, answers, [], tokens, lease_s=lease_s, stats=stats)


def deliver_due(factory: sessionmaker[Session], client: httpx.Client, key: Ed25519PrivateKey, *,
                hub_url: str, lab_code: str, limit: int = 100) -> DeliveryStats:
    """One pass of the delivery worker over due pending messages, by chunks: claim (a short unit of work), POST
    each, record the answers (another short unit of work; a slow hub adds lease renewals: the module's
    docstring). A pass holds at most one message per sample (the next is not due while it is undelivered)."""
    stats = DeliveryStats()
    url = f"{hub_url.rstrip('/')}/hub/v1/messages"
    with getattr(factory, "read", factory)() as s:
        due = due_ids(s, limit=limit, now=utcnow())
    for i in range(0, len(due), CLAIM_CHUNK):
        _deliver_chunk(factory, client, key, due[i:i + CLAIM_CHUNK], url=url, lab_code=lab_code, stats=stats)
    return stats


def next_due_in(factory: sessionmaker[Session], *, cap_s: float) -> float:
    """Seconds until the earliest pending message is due (0 when one is due now), at most ``cap_s``."""
    with factory() as s:
        first = s.execute(select(OutboxMessage.next_attempt_at).where(OutboxMessage.status == OutboxStatus.PENDING)
                          .order_by(OutboxMessage.next_attempt_at).limit(1)).scalar()
    if first is None:
        return cap_s
    return max(0.0, min(cap_s, (as_utc(first) - utcnow()).total_seconds()))


class Worker:
    """The delivery loop of ``lims upstream run`` and of ``lims serve`` (a background thread): delivers what
    is due, then sleeps until the next message is due (at most ``poll_s``: new messages are found then)."""

    def __init__(self, factory: sessionmaker[Session], key: Ed25519PrivateKey, *, hub_url: str, lab_code: str,
                 poll_s: float = 5.0, timeout_s: float = 30.0, tasks_every_s: float | None = None) -> None:
        self.factory, self.key, self.hub_url, self.lab_code = factory, key, hub_url, lab_code
        self.poll_s, self.timeout_s, self.tasks_every_s = poll_s, timeout_s, tasks_every_s
        self._tasks_at = 0.0
        self.stop_event = threading.Event()
        self.totals = DeliveryStats()

    def run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self.stop_event.is_set():
                self._maybe_sync_tasks()
                try:
                    stats = deliver_due(self.factory, client, self.key, hub_url=self.hub_url,
                                        lab_code=self.lab_code)
                    self.totals.delivered += stats.delivered
                    self.totals.retried += stats.retried
                    self.totals.dead += stats.dead
                    wait = 0.0 if stats.delivered and not stats.retried else \
                        next_due_in(self.factory, cap_s=self.poll_s)
                except Exception:  # a lost database or a bad row never ends the worker; retried next poll
                    log.exception("upstream delivery pass failed")
                    wait = self.poll_s
                self.stop_event.wait(max(wait, 0.05))

    def run_once(self) -> int:
        """Deliver what is due now (passes until one delivers nothing: a delivered message may make the next
        message of its sample due); the number delivered."""
        delivered = 0
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self.stop_event.is_set():
                stats = deliver_due(self.factory, client, self.key, hub_url=self.hub_url, lab_code=self.lab_code)
                delivered += stats.delivered
                if not stats.delivered:
                    break
        return delivered

    def _maybe_sync_tasks(self) -> None:
        """Every ``tasks_every_s`` (the long-running worker: hourly), pull the tasks; a failure waits for the next."""
        if self.tasks_every_s is None or time.monotonic() - self._tasks_at < self.tasks_every_s:
            return
        self._tasks_at = time.monotonic()
        try:
            sync, queued = self.sync_tasks()
            log.info("monitoring tasks from the hub: %s; %d progress messages queued", sync.as_json(), queued)
        except Exception as exc:  # noqa: BLE001 - the hub may not publish tasks; delivery goes on
            log.warning("monitoring tasks not pulled from %s: %s", self.hub_url, exc)

    def sync_tasks(self) -> tuple[Any, int]:
        """Pull the hub's monitoring tasks and queue a progress message per hub task (one unit of work);
        (TaskSync, messages queued). TaskFeedError when the hub's list cannot be read."""
        from lims.upstream import tasks

        with httpx.Client(timeout=self.timeout_s) as client:
            notices = tasks.pull(client, self.key, hub_url=self.hub_url, lab_code=self.lab_code)
        with session_scope(self.factory, actor=WORKER_ACTOR, reason="monitoring tasks from the hub") as s:
            sync = tasks.store(s, notices)
            queued = len(tasks.queue_progress(s, lab_code=self.lab_code))
        return sync, queued

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name="upstream delivery", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        self.stop_event.set()


def worker_from_settings() -> Worker | None:
    """The worker ``lims serve`` runs when ``LIMS_UPSTREAM_URL`` is set (None when it is not); ValueError
    naming the setting when the key is missing or unreadable."""
    from lims.config import Settings
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory
    from lims.upstream.signing import load_key

    settings = Settings()
    if not settings.upstream_url:
        return None
    if settings.upstream_key is None or not settings.upstream_key.is_file():
        raise ValueError(f"LIMS_UPSTREAM_URL is set but LIMS_UPSTREAM_KEY ({settings.upstream_key}) names no key "
                         "file (create one with `lims upstream keygen`)")
    key = load_key(settings.upstream_key)
    audit.install()
    factory = make_session_factory(make_engine(settings.database_url))
    return Worker(factory, key, hub_url=settings.upstream_url, lab_code=settings.lab_code, tasks_every_s=3600.0,
                  timeout_s=settings.upstream_timeout_s)
