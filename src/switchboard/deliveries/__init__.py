"""Provider deliveries already acted on: the key that makes every webhook exactly-once."""
