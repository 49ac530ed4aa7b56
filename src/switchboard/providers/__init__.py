"""Outbound clients for the providers' APIs, each behind a small protocol."""
