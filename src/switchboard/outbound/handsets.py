"""The sandbox's handsets: in development, what each recipient would have received, a line of
JSON a send, in `<data dir>/sandbox-outbox.jsonl`.

cc_sandbox_outbox keeps what cc_messages keeps (a one-time code as `••••••`); this file keeps
the text itself, as the recipient's phone or mailbox would, so that the simulator can play
the customer who reads a code out to the assistant, and the providers' status reports about
the messages the service really sent. It exists only where the sandbox sends (development:
the sandbox is refused in production), readable by its owner only, beside dev-secrets.json,
whose key opens the sealed texts in the job queue anyway.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "sandbox-outbox.jsonl"


@dataclass(frozen=True)
class Delivered:
    message_id: str  # our cc_messages id
    provider_message_id: str  # the sandbox's SB… id, where a provider's id would be
    channel: str  # sms, whatsapp or email
    from_address: str | None
    to_address: str
    subject: str | None
    text: str  # what the recipient reads, a code included
    sent_at: float  # seconds since the epoch


def handsets_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def append(path: Path, delivered: Delivered) -> None:
    """One line, written with one call on a file opened for appending: lines written by
    several workers at once do not interleave."""
    line = (json.dumps(asdict(delivered), ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_from(path: Path, offset: int) -> tuple[list[Delivered], int]:
    """The sends recorded after `offset` (in bytes), and the offset after the last whole line;
    a line still being written is read next time."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return [], offset
    whole = chunk[: chunk.rfind(b"\n") + 1]
    found = [Delivered(**json.loads(line)) for line in whole.splitlines() if line.strip()]
    return found, offset + len(whole)
