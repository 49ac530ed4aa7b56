"""The audit trail: append-only records of who did what, redacted before they are written."""
