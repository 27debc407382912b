"""The hub (province / ministry receiver): lab registry, validation rules, idempotent store, relay upward,
reconciliation, analytics, alerts, publication of non-compliant products and producer credit records."""
