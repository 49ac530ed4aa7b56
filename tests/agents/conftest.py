from tests.agent_sessions.console import client

__all__ = ["client"]
