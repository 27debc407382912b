"""The read model: what the REST API (``/api/v1``) and the web UI show, built once.

Each module answers for one area (samples, tasks and producers, batches, results and review, reports,
limits, instruments, audit, the dashboard) with typed records (:class:`typing_extensions.TypedDict`:
plain JSON-ready dicts with their keys and types declared, which the API also uses as response
schemas). A route or a page calls these functions inside :func:`api.deps.read_service` (or after a
write, inside the same unit of work) and renders the answer; it never builds its own query. Where a
page shows more than the API answers, the page's record is the API's record plus its extra keys
(the API's response model leaves those out).

Datetimes are ISO-8601 strings, as the API has always answered them.
"""
