"""The agents' JSON API under /api/v1: what a signed-in agent reads and does. Every route takes
the agent from `agent_sessions.http.signed_in_agent` and calls one use case of a domain
package, which runs in the agent's name under row-level security (row_security)."""
