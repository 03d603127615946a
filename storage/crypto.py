"""Field encryption (AES-GCM) and keyed hashes for ID and passport numbers.

The configured ``data_key`` (32 random bytes, base64) is stretched with HKDF into one
key for encryption and one for the keyed hash, so the hash cannot be reversed by anyone
without the key, yet equal numbers still find each other ("seen before" look-ups).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class CryptoError(Exception):
    """Decryption failed: wrong key, or the data was altered."""


def generate_key() -> str:
    """A fresh data key in the form the config file expects."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")


def _decode(key: str) -> bytes:
    raw = base64.urlsafe_b64decode(key.encode("ascii") + b"=" * (-len(key) % 4))
    if len(raw) != 32:
        raise CryptoError("a data key must be 32 bytes in base64")
    return raw


def _derive(raw: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(raw)


@dataclass(frozen=True)
class _Key:
    key_id: str
    aead: AESGCM
    mac: bytes


def _make(key: str) -> _Key:
    raw = _decode(key)
    key_id = hashlib.sha256(b"binhyen-key-id" + raw).hexdigest()[:12]
    return _Key(key_id, AESGCM(_derive(raw, b"binhyen/aead/v1")), _derive(raw, b"binhyen/mac/v1"))


class FieldCipher:
    """Encrypts with the current key; decrypts with the current or any old key."""

    def __init__(self, current: str, old: tuple[str, ...] = ()) -> None:
        if not current:
            raise CryptoError("no data key configured ([security] data_key)")
        self._current = _make(current)
        self._keys = {k.key_id: k for k in (self._current, *(_make(o) for o in old))}

    @property
    def key_id(self) -> str:
        return self._current.key_id

    def encrypt(self, plain: str, context: str) -> bytes:
        """Nonce + ciphertext; ``context`` binds the value to its column."""
        nonce = os.urandom(12)
        return nonce + self._current.aead.encrypt(nonce, plain.encode("utf-8"), context.encode())

    def decrypt(self, blob: bytes, context: str, key_id: str) -> str:
        key = self._keys.get(key_id)
        if key is None:
            raise CryptoError(f"data encrypted with key {key_id}, which is not configured")
        try:
            return key.aead.decrypt(blob[:12], blob[12:], context.encode()).decode("utf-8")
        except (InvalidTag, ValueError):  # ValueError: a blob cut shorter than its nonce
            raise CryptoError("cannot decrypt: wrong data key or altered data") from None

    def decrypt_any(self, blob: bytes, context: str) -> tuple[str, str]:
        """Decrypt with whichever configured key fits (for values stored without a key
        id); returns (plain, key_id). The AEAD tag tells a wrong key from the right one."""
        for key_id in self._keys:
            try:
                return self.decrypt(blob, context, key_id), key_id
            except CryptoError:
                continue
        raise CryptoError("cannot decrypt with any configured key")

    def keyed_hash(self, value: str) -> str:
        """Stable look-up hash of a normalised value under the current key."""
        return hmac.new(self._current.mac, value.encode("utf-8"), hashlib.sha256).hexdigest()
