"""Development secrets: generated once, owner-only, and completed when a new one is added."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from switchboard.dev_secrets import FILE_NAME, DevSecrets, load_or_create


def test_every_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_or_create(tmp_path)
    second = load_or_create(tmp_path)

    assert first == second
    assert all(getattr(first, f.name) for f in fields(DevSecrets))
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o077 == 0


def test_a_file_from_before_a_secret_was_added_gets_it_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    original = load_or_create(tmp_path)
    path = tmp_path / FILE_NAME
    older = json.loads(path.read_text())
    del older["switchboard_secret_key"]
    path.write_text(json.dumps(older))

    completed = load_or_create(tmp_path)

    assert completed.switchboard_secret_key
    assert completed.switchboard_secret_key != original.switchboard_secret_key
    assert completed.twilio_auth_token == original.twilio_auth_token
    assert json.loads(path.read_text())["switchboard_secret_key"] == (
        completed.switchboard_secret_key
    )
    assert path.stat().st_mode & 0o077 == 0
    assert load_or_create(tmp_path) == completed
