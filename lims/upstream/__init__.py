"""Upstream delivery (lab side): the canonical record and its JSON Schemas (:mod:`.schema`), the outbox
(:mod:`.outbox`: messages written in the certifying transaction), request signing (:mod:`.signing`), the
delivery worker (:mod:`.delivery`) and the monitoring tasks pulled from the hub (:mod:`.tasks`)."""
