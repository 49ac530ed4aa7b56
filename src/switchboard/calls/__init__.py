"""Voice calls: what Vapi reports about a call, kept in the call's one conversation."""
