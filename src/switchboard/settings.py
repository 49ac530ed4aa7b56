"""Settings read once from the environment; nothing here connects to anything."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from switchboard.errors import ConfigurationError

_PACKAGE_ROOT = Path(__file__).resolve().parent


def _default_migrations_dir() -> Path:
    # A source checkout (editable install) keeps the SQL beside src/; that is the only
    # layout we ship, so say how to point elsewhere instead of guessing.
    return _PACKAGE_ROOT.parents[1] / "migrations"


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    migrations_dir: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        values = os.environ if env is None else env
        database_url = values.get("DATABASE_URL") or None
        data_dir = Path(values.get("SWITCHBOARD_DATA_DIR") or ".switchboard").expanduser()
        migrations_dir = Path(
            values.get("SWITCHBOARD_MIGRATIONS_DIR") or _default_migrations_dir()
        ).expanduser()
        if not migrations_dir.is_dir():
            raise ConfigurationError(
                f"migrations folder not found at {migrations_dir}",
                hint="set SWITCHBOARD_MIGRATIONS_DIR to the folder holding 001_….sql",
            )
        return cls(database_url=database_url, data_dir=data_dir, migrations_dir=migrations_dir)
