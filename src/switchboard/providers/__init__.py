"""Outbound provider clients, each behind a small protocol (messaging.py)."""
