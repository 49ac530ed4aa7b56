"""Outbound messages: checked against the customer's preferences, queued, sent by the worker."""
