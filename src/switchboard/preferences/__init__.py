"""Contact preferences: whether, how and when the bank may write to a customer."""
