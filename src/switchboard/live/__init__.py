"""Live updates: PostgreSQL's notifications on cc_live, fanned out to each agent's event stream."""
