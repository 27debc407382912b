"""The QA manager's pages in one router (issue 16): the quality hub and QC charts, audit and nonconformity
boards, complaints, controlled documents, the registers, limits, monitoring tasks, upstream delivery and API
keys — each area in its own module."""

from __future__ import annotations

from api.ui import complaints, documents, keys, limits, quality, quality_boards, registers, upstream
from api.ui.base import area_router

router = area_router()
for _area in (quality, quality_boards, complaints, documents, registers, limits, upstream, keys):
    router.routes.extend(_area.router.routes)
