"""The lab's web UI: zh-CN first, English second; server-rendered HTML, no JavaScript framework.

One module per area (samples, review, batches, reports, PT, instruments, audit, the dashboard), the same
URLs as ever. Pages read through the services that serve ``/api/v1`` too; every write goes through the same
service as the REST API (:mod:`lims.services.signoff`, :mod:`lims.services.reporting`) in one unit of work
(:func:`api.deps.run_service`), so a refused request signs or writes nothing. Every route declares its
permission with :func:`api.security.require_ui` (anonymous visitors go to /login); cookie-authenticated
POSTs are CSRF-checked by that dependency (double-submit field ``csrf_token``). A signed-in user refused
by it (missing permission, stale CSRF token) gets a zh-CN page with status 403 (:class:`UiRoute`), not the
API's JSON.

Refusals are shown in Chinese by their stable ``code`` (:data:`ERROR_ZH`, lims.services.errors), never by
the wording of the English message, which follows in small print.

Wherever a result is shown, so are its e-signature manifestations — printed name, date-time with the
time zone and the meaning of the signature (21 CFR 11.50(a); ISO/IEC 17025:2017 7.5.1).
"""

from __future__ import annotations

from api.ui import audit, batches, instruments, pt, reports, review, samples, users
from api.ui import batch_detail as batch_detail_area
from api.ui import bench as bench_area
from api.ui import methods_admin as methods_area
from api.ui import qa_pages as qa_area
from api.ui import reception as reception_area  # before samples: /samples/new ahead of /samples/{code}
from api.ui import search as search_area  # the header's global search
from api.ui.audit import audit_changes
from api.ui.base import UiRoute, area_router, local_time, render, ui_error
from api.ui.dashboard import dashboard_page
from api.ui.labels import ERROR_ZH, GENERIC_ERROR_ZH

#: All pages in one router. The areas' routes are taken over as they are (``include_router`` would wrap
#: them and lose the :class:`UiRoute` class that turns a refusal into the zh-CN page).
router = area_router()
for _area in (reception_area, samples, review, batches, batch_detail_area, bench_area, reports, pt, instruments, audit,
              users):
    router.routes.extend(_area.router.routes)
router.routes.extend(search_area.router.routes)
router.routes.extend(qa_area.router.routes)  # the QA manager's pages (issue 16)
router.routes.extend(methods_area.router.routes)  # methods, scope and signatories (/admin/methods)

__all__ = ["ERROR_ZH", "GENERIC_ERROR_ZH", "UiRoute", "audit_changes",
           "dashboard_page", "local_time", "render", "router", "ui_error"]
