"""Refused webhook deliveries: audited in bounded size, and at a bounded rate per source."""
