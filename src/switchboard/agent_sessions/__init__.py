"""Agents' sign-in sessions: password, TOTP, cookies, back-off and CSRF."""
