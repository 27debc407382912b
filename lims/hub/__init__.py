"""The hub (province / ministry receiver): lab registry, validation rules, idempotent store, relay upward,
reconciliation, analytics, alerts, publication of non-compliant products and producer credit records."""

import lims.db.models  # noqa: E402,F401  - the ORM base first: lims.db.models_hub then imports without a cycle
