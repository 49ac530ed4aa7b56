"""Switchboard: the backend of a bank's omnichannel contact center on PostgreSQL."""

__version__ = "0.1.0"
