"""Development secrets: generated once; a file from an older version is completed, not lost."""

from __future__ import annotations

import json
from pathlib import Path

from switchboard.dev_secrets import FILE_NAME, load_or_create


def test_a_file_missing_a_newer_secret_keeps_its_values_and_gains_the_new_one(
    tmp_path: Path,
) -> None:
    first = load_or_create(tmp_path)
    path = tmp_path / FILE_NAME
    older = json.loads(path.read_text())
    del older["switchboard_secret_key"]
    path.write_text(json.dumps(older))

    completed = load_or_create(tmp_path)

    assert completed.twilio_auth_token == first.twilio_auth_token
    assert completed.vapi_secret == first.vapi_secret
    assert len(completed.switchboard_secret_key) >= 32
    assert load_or_create(tmp_path) == completed  # written back, so it stays the same
    assert path.stat().st_mode & 0o077 == 0
