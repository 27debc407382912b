"""Persistence: engine/session factory, typed ORM models, audit trail."""
