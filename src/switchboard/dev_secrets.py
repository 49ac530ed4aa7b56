"""Development secrets: generated once, kept under the data directory, never in the repository.

In development every secret that is not set is taken from (or, the first time,
written to) `<data dir>/dev-secrets.json`, readable by its owner only. The simulator reads the
same file to sign its traffic, including the private half of the SendGrid Event Webhook key,
which a real deployment never has. In production nothing is generated.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from switchboard.settings import Settings

FILE_NAME = "dev-secrets.json"


@dataclass(frozen=True)
class DevSecrets:
    twilio_auth_token: str
    sendgrid_event_public_key: str  # base64 DER, as SendGrid shows it
    sendgrid_event_private_key: str  # PEM; for the simulator only
    sendgrid_inbound_secret: str
    vapi_secret: str
    switchboard_secret_key: str


def load_or_create(data_dir: Path) -> DevSecrets:
    path = data_dir / FILE_NAME
    if path.exists():
        kept = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(DevSecrets)}
        if known <= kept.keys():
            return DevSecrets(**{name: kept[name] for name in known})
        # Written by an older Switchboard: keep what it has, generate what it lacks.
        fresh = asdict(_generate())
        completed = DevSecrets(**{name: kept.get(name, fresh[name]) for name in known})
        _write(path, completed, replace=True)
        return completed
    data_dir.mkdir(parents=True, exist_ok=True)
    created = _generate()
    _write(path, created, replace=False)
    return created


def _write(path: Path, secrets_: DevSecrets, *, replace: bool) -> None:
    write_private(path, asdict(secrets_), replace=replace)


def write_private(path: Path, content: dict[str, Any], *, replace: bool) -> None:
    """`content` as JSON in a file only its owner may read (a development secret's file)."""
    # Written through a new 0600 file, so the secrets are never readable by others; a
    # replacement is renamed over the old file, so a reader never sees half of one.
    target = path.with_name(path.name + ".new") if replace else path
    if replace:
        target.unlink(missing_ok=True)  # left by a write that was interrupted
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
    if replace:
        os.replace(target, path)


def with_dev_secrets(settings: Settings) -> Settings:
    """The settings with every unset provider secret filled in, in development only."""
    if settings.production or not settings.missing_secrets():
        return settings
    dev = load_or_create(settings.data_dir)
    filled = {
        field: getattr(dev, field)
        for field in (
            "twilio_auth_token",
            "sendgrid_event_public_key",
            "sendgrid_inbound_secret",
            "vapi_secret",
            "switchboard_secret_key",
        )
        if not getattr(settings, field).strip()
    }
    return settings.model_copy(update=filled)


def _generate() -> DevSecrets:
    key = ec.generate_private_key(ec.SECP256R1())
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return DevSecrets(
        twilio_auth_token=secrets.token_hex(16),
        sendgrid_event_public_key=base64.b64encode(public_der).decode(),
        sendgrid_event_private_key=private_pem,
        sendgrid_inbound_secret=secrets.token_urlsafe(24),
        vapi_secret=secrets.token_urlsafe(32),
        switchboard_secret_key=secrets.token_urlsafe(32),
    )
