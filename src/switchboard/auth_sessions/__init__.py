"""One-time codes (cc_auth_sessions) and the assurance level they give a conversation."""
