"""The webhook ledger: provider deliveries already acted on (cc_webhook_events), the key that
makes every webhook exactly-once. Sending is outbound's (outbound/dispatch.py)."""
