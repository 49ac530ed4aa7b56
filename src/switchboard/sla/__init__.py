"""SLA clocks in business time, and regulatory case clocks."""
