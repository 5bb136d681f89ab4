"""Drop folders: the SFTP-style outbound folder a clearinghouse or payer collects files from.

Delivery is atomic and idempotent, as the outbox requires of a receiver: the file is written under a
temporary name in the same folder, flushed to disk and renamed into place, so the partner never collects a
half-written file; delivering the same file again finds it there with the same bytes and does nothing. A
file of that name with other bytes is never overwritten: that is a permanent failure for a person to look at.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from rcmflow.services.delivery import OutboxMessageView, PermanentDeliveryError, TemporaryDeliveryError


def drop_file(folder: Path, name: str, content: bytes) -> bool:
    """Write ``content`` as ``folder/name`` atomically; False when the same file is already there."""
    if "/" in name or "\\" in name or name.startswith("."):
        raise PermanentDeliveryError(f"file name {name!r} is not a plain file name")
    target = folder / name
    if target.exists():
        if target.read_bytes() == content:
            return False
        raise PermanentDeliveryError(f"{target} already exists with other content; not overwritten")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".partial-", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)  # mkstemp makes it 0600: the partner's collector must read it
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a full disk or an unmounted share may come back: retry with backoff
        raise TemporaryDeliveryError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return True


class FolderDropHandler:
    """Outbox handler: a message names a file (``file_name``) whose bytes ``load`` fetches by the message's
    payload; the handler drops it into ``folder``."""

    def __init__(self, folder: Path, load: Callable[[OutboxMessageView], bytes]) -> None:
        self.folder = folder
        self._load = load

    def __call__(self, message: OutboxMessageView) -> None:
        name = str(message.payload.get("file_name") or "")
        if not name:
            raise PermanentDeliveryError("the message names no file")
        drop_file(self.folder, name, self._load(message))
