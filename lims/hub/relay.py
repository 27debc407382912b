"""Relay upward: a hub that receives is also a sender. Each stored message gets a ``relay`` row in this hub's
own outbox (lims.hub.store, in the storing transaction) and the lab-side delivery worker
(lims.upstream.delivery) sends it, signed with the hub's key as lab ``LIMS_HUB_CODE``, to
``LIMS_HUB_RELAY_URL`` — the next level registers this hub with ``lims hub lab add CODE --relay``.
Chain: county → city/province → ministry, each hop idempotent and retried the same way.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from lims.config import Settings
from lims.upstream.delivery import Worker
from lims.upstream.signing import load_key


def relay_worker(factory: sessionmaker[Session], settings: Settings | None = None,
                 poll_s: float = 2.0) -> Worker | None:
    """The relay worker (None when ``LIMS_HUB_RELAY_URL`` is unset); ValueError naming the key setting."""
    settings = settings or Settings()
    if not settings.hub_relay_url:
        return None
    if settings.hub_key is None or not settings.hub_key.is_file():
        raise ValueError(f"LIMS_HUB_RELAY_URL is set but LIMS_HUB_KEY ({settings.hub_key}) names no key file")
    return Worker(factory, load_key(settings.hub_key), hub_url=settings.hub_relay_url, lab_code=settings.hub_code,
                  poll_s=poll_s)
