"""The lab's quality system (ARCHITECTURE.md, "Where the next capabilities live"): nonconformities and
CAPA, audits and inspections, complaints, controlled documents, QC runs with Westgard rules."""
