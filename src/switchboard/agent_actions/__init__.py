"""What a signed-in agent does to a conversation: reply, write an internal note, open, move and
note its cases. Each is one transaction in the agent's name: PostgreSQL's policies (021) first
decide whether the agent may see what is acted on, then the service acts, audited, in the same
transaction."""
