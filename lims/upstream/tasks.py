"""Monitoring tasks sent down (任务下达) and progress sent up.

The lab pulls the tasks its province publishes on the hub — ``GET {hub}/hub/v1/tasks?lab=CODE``, answered
with a :class:`~lims.upstream.schema.TaskList` (schema ``task-list``; the request is signed like a message,
over an empty body, Idempotency-Key ``LAB:tasks``) — and keeps each as a monitoring task with the notice as
published (version, period, quotas by county and commodity). A newer version of a notice updates the task; a
task the lab created itself under the same code is left alone and named. Progress (samples taken and tested,
per county and commodity) goes up as an outbox message ``cn-agri-task-progress/1`` like any other.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models import Commodity, MonitoringTask, OutboxMessage, Sample
from lims.upstream import schema as w
from lims.upstream.outbox import PROGRESS_KIND, _add
from lims.upstream.signing import sign_request
from lims.vocabulary import SampleStatus

TESTED = (SampleStatus.APPROVED, SampleStatus.REPORTED)


class TaskFeedError(ValueError):
    """The hub's task list could not be read: names the HTTP status or the field that is wrong."""


def pull(client: httpx.Client, key: Ed25519PrivateKey, *, hub_url: str, lab_code: str) -> list[w.TaskNotice]:
    headers = sign_request(key, b"", lab_code=lab_code, idempotency_key=f"{lab_code}:tasks")
    headers.pop("content-type", None)
    try:
        resp = client.get(f"{hub_url.rstrip('/')}/hub/v1/tasks", params={"lab": lab_code}, headers=headers)
    except httpx.HTTPError as exc:
        raise TaskFeedError(f"hub unreachable: {type(exc).__name__}: {exc}") from None
    if resp.status_code != 200:
        raise TaskFeedError(f"HTTP {resp.status_code} from {resp.request.url}")
    try:
        return w.TaskList.model_validate_json(resp.content).tasks
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TaskFeedError(f"task list: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


@dataclass
class TaskSync:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "CODE: why"

    def as_json(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "refused": self.refused}


def store(s: Session, notices: list[w.TaskNotice]) -> TaskSync:
    """Keep the notices as monitoring tasks (the caller's unit of work)."""
    sync = TaskSync()
    for n in notices:
        task = s.execute(select(MonitoringTask).where(MonitoringTask.code == n.code)).scalar_one_or_none()
        notice = n.wire()
        if task is None:
            s.add(MonitoringTask(code=n.code, name=n.name, programme_type=n.programme_type,
                                 issuing_authority=n.issuing_authority, required_analytes=list(n.required_analytes),
                                 hub_notice=notice))
            sync.created.append(n.code)
        elif task.hub_notice is None:
            sync.refused.append(f"{n.code}: a task the lab created itself has this code")
        elif int(task.hub_notice.get("version", 1)) >= n.version:
            sync.unchanged.append(n.code)
        else:
            task.name, task.programme_type, task.issuing_authority = n.name, n.programme_type, n.issuing_authority
            task.required_analytes, task.hub_notice = list(n.required_analytes), notice
            sync.updated.append(n.code)
    s.flush()
    return sync


def progress(s: Session, task_code: str, *, lab_code: str) -> w.TaskProgress:
    """Samples taken and tested (approved or reported) for the task, per county and commodity."""
    taken: Counter[tuple[str, str]] = Counter()
    tested: Counter[tuple[str, str]] = Counter()
    for region, commodity, status in s.execute(
            select(Sample.region_code, Commodity.code, Sample.status).join(Commodity)
            .where(Sample.task_code == task_code)).all():
        taken[(region, commodity)] += 1
        if status in TESTED:
            tested[(region, commodity)] += 1
    rows = [w.ProgressRow(county_code=region or None, product_code=commodity, taken=n,
                          tested=tested[(region, commodity)]) for (region, commodity), n in sorted(taken.items())]
    return w.TaskProgress(lab=lab_code, task_code=task_code, at=utcnow(), rows=rows)


def queue_progress(s: Session, *, lab_code: str) -> list[OutboxMessage]:
    """A progress message for every task the hub sent down (the caller's unit of work)."""
    codes = s.execute(select(MonitoringTask.code).where(MonitoringTask.hub_notice.is_not(None))
                      .order_by(MonitoringTask.code)).scalars().all()
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    return [_add(s, kind=PROGRESS_KIND, key=_key(lab_code, code, stamp), doc=progress(s, code, lab_code=lab_code),
                 sample_code=None, result_ids=()) for code in codes]


def _key(lab_code: str, task_code: str, stamp: str) -> str:
    key = f"{lab_code}:progress:{task_code}:{stamp}"
    if len(key) <= 80:  # the column's width
        return key
    return f"{lab_code}:progress:{hashlib.sha256(f'{task_code}:{stamp}'.encode()).hexdigest()[:24]}"
