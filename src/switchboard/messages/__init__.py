"""Messages: every inbound and outbound message stored once, with its delivery status."""
