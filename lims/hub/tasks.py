"""Tasks sent down (任务下达): the monitoring tasks a hub publishes (``lims hub task publish FILE``) and the
list a lab pulls, signed, from ``GET /hub/v1/tasks?lab=CODE`` (lims.upstream.tasks.pull): the tasks that
name the lab, or name no lab and have a quota in the lab's registered region (or no quotas at all).
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models_hub import HubLab, HubTask
from lims.hub.registry import region_allowed
from lims.services.errors import Conflict, InvalidInput
from lims.upstream import schema as w


def publish(s: Session, doc: object) -> tuple[str, str]:
    """Publish (or update to a newer version) a task notice; (code, 'published' | 'updated' | 'unchanged')."""
    try:
        notice = w.TaskNotice.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
                           code="hub.task_invalid") from None
    text = json.dumps(notice.wire(), sort_keys=True, ensure_ascii=False)
    row = s.execute(select(HubTask).where(HubTask.code == notice.code)).scalar_one_or_none()
    if row is None:
        s.add(HubTask(code=notice.code, version=notice.version, notice=text, published_at=utcnow()))
        return notice.code, "published"
    if row.version == notice.version:
        if row.notice != text:
            raise Conflict(f"task {notice.code} version {notice.version} is published with other content; "
                           "publish a new version", code="hub.task_version_taken")
        return notice.code, "unchanged"
    if notice.version < row.version:
        raise Conflict(f"task {notice.code}: version {row.version} is published; {notice.version} is older",
                       code="hub.task_version_taken")
    row.version, row.notice, row.published_at = notice.version, text, utcnow()
    return notice.code, "updated"


def tasks_for(s: Session, lab_code: str) -> w.TaskList:
    lab = s.execute(select(HubLab).where(HubLab.code == lab_code)).scalar_one_or_none()
    region = lab.region_code if lab is not None else ""
    out = []
    for text in s.execute(select(HubTask.notice).order_by(HubTask.code)).scalars():
        notice = w.TaskNotice.model_validate_json(text)
        if notice.labs:
            if lab_code in notice.labs:
                out.append(notice)
        elif not notice.quotas or any(region_allowed(region, q.county_code) or
                                      region_allowed(q.county_code, region or None) for q in notice.quotas):
            out.append(notice)
    return w.TaskList(tasks=out)
