"""Content-addressed storage for photos users send, with size and type limits; their
metadata is stripped before they are stored."""

from __future__ import annotations

import hashlib
from pathlib import Path

from storage import images

ALLOWED = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG", "image/webp": b"RIFF"}


class FileRejected(ValueError):
    """The file is too large or not an accepted image type; ``reason`` is a catalogue key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sniff(data: bytes) -> str | None:
    """The image type from the file's first bytes (never trust the sender's label)."""
    for mime, magic in ALLOWED.items():
        if data.startswith(magic) and (mime != "image/webp" or data[8:12] == b"WEBP"):
            return mime
    return None


class FileStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def check(self, data: bytes) -> str:
        """Validate and return the real MIME type, or raise :class:`FileRejected`."""
        if len(data) > self.max_bytes:
            raise FileRejected("errors.photo_too_big")
        mime = sniff(data)
        if mime is None:
            raise FileRejected("errors.photo_type")
        return mime

    def put(self, data: bytes) -> tuple[str, str]:
        """Store an image someone sent, without its metadata (GPS, device, owner: see
        :mod:`storage.images`); returns (sha256 of what was stored, mime)."""
        mime = self.check(data)
        return self.put_any(images.strip_metadata(data, mime)), mime

    def put_any(self, data: bytes) -> str:
        """Store a file we generated ourselves (an export); returns its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return digest

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)
