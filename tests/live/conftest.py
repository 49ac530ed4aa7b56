from tests.live.console import live

__all__ = ["live"]
