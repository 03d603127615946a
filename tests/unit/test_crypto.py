"""Field encryption and keyed hashes; ID numbers never reach the disk in the clear."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.crypto import CryptoError, FieldCipher, generate_key
from storage.db import Database, make_engine
from storage.tables import Area, Arrival, Guest

CCCD = "001203012345"
CTX = "guests.id_cipher"


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(generate_key())


@pytest.mark.parametrize("plain", [CCCD, "Nguyễn Thị Ánh Tuyết", "B1234567 — hộ chiếu", "",
                                   "0" * 500])
def test_round_trip(cipher: FieldCipher, plain: str) -> None:
    blob = cipher.encrypt(plain, CTX)
    assert isinstance(blob, bytes)
    assert plain.encode("utf-8") not in blob or not plain
    assert cipher.decrypt(blob, CTX, cipher.key_id) == plain


def test_encryption_is_randomised(cipher: FieldCipher) -> None:
    a, b = cipher.encrypt(CCCD, CTX), cipher.encrypt(CCCD, CTX)
    assert a != b  # a fresh nonce each time: equal numbers do not look equal at rest
    assert cipher.decrypt(a, CTX, cipher.key_id) == cipher.decrypt(b, CTX, cipher.key_id)


def test_wrong_key_is_an_error_not_garbage(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(CCCD, CTX)
    other = FieldCipher(generate_key())
    # Unknown key id: says which key it needs.
    with pytest.raises(CryptoError, match=rf"key {cipher.key_id}.*not configured"):
        other.decrypt(blob, CTX, cipher.key_id)
    # A key presented under the right id (a misconfiguration) still fails cleanly.
    with pytest.raises(CryptoError, match="wrong data key or altered data"):
        other.decrypt(blob, CTX, other.key_id)


@pytest.mark.parametrize("position", [0, 5, 12, 20, -1])
def test_tampered_ciphertext_is_refused(cipher: FieldCipher, position: int) -> None:
    blob = bytearray(cipher.encrypt(CCCD, CTX))
    blob[position] ^= 0x01
    with pytest.raises(CryptoError, match="wrong data key or altered data"):
        cipher.decrypt(bytes(blob), CTX, cipher.key_id)


def test_truncated_ciphertext_is_refused(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(CCCD, CTX)
    for cut in (blob[:-1], blob[:16], blob[:12], b""):
        with pytest.raises(CryptoError):
            cipher.decrypt(cut, CTX, cipher.key_id)


def test_value_is_bound_to_its_column(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(CCCD, CTX)
    with pytest.raises(CryptoError):
        cipher.decrypt(blob, "people.phone", cipher.key_id)


def test_old_keys_decrypt_after_rotation() -> None:
    old_key, new_key = generate_key(), generate_key()
    before = FieldCipher(old_key)
    blob = before.encrypt(CCCD, CTX)

    after = FieldCipher(new_key, (old_key,))
    assert after.key_id != before.key_id
    assert after.decrypt(blob, CTX, before.key_id) == CCCD
    fresh = after.encrypt(CCCD, CTX)  # new rows use the new key
    assert after.decrypt(fresh, CTX, after.key_id) == CCCD
    with pytest.raises(CryptoError):
        before.decrypt(fresh, CTX, after.key_id)
    # Once the old key is dropped, its rows are unreadable, with a clear message.
    with pytest.raises(CryptoError, match="not configured"):
        FieldCipher(new_key).decrypt(blob, CTX, before.key_id)


def test_key_id_is_stable_and_reveals_nothing() -> None:
    key = generate_key()
    assert FieldCipher(key).key_id == FieldCipher(key).key_id
    assert FieldCipher(key).key_id != FieldCipher(generate_key()).key_id
    assert FieldCipher(key).key_id not in key
    assert len(FieldCipher(key).key_id) <= 16  # fits guests.key_id


def test_keyed_hash() -> None:
    key = generate_key()
    a, b, c = FieldCipher(key), FieldCipher(key), FieldCipher(generate_key())
    assert a.keyed_hash(CCCD) == b.keyed_hash(CCCD)
    assert a.keyed_hash(CCCD) != c.keyed_hash(CCCD)
    assert a.keyed_hash(CCCD) != a.keyed_hash("001203012346")
    assert CCCD not in a.keyed_hash(CCCD)
    assert len(a.keyed_hash(CCCD)) == 64  # fits guests.id_hash
    # Rotation re-hashes under the new key: the hash follows the current key only.
    assert FieldCipher(generate_key(), (key,)).keyed_hash(CCCD) != a.keyed_hash(CCCD)


@pytest.mark.parametrize("key", ["", "c2hvcnQ"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(CryptoError):
        FieldCipher(key)


def test_generated_keys_are_fresh_and_32_bytes() -> None:
    import base64

    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20
    for k in keys:
        assert len(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))) == 32


# --- at rest ---------------------------------------------------------------------------


async def test_id_numbers_are_not_stored_in_the_clear(tmp_path: Path) -> None:
    path = tmp_path / "rest.db"
    cipher = FieldCipher(generate_key())
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    db = Database(make_engine(f"sqlite+aiosqlite:///{path}"))
    await db.upgrade()
    try:
        async with db.uow() as s:
            area = Area(code="20242", level="commune", name="Hải Châu", type="Phường",
                        key="phuong hai chau")
            s.add(area)
            await s.flush()
            arrival = Arrival(ref="TT-26-000001", area_id=area.id, address="12 Trần Phú",
                              deadline_at=now)
            s.add(arrival)
            await s.flush()
            s.add(Guest(arrival_id=arrival.id, full_name="Nguyễn Văn Khách",
                        id_cipher=cipher.encrypt(CCCD, CTX), id_hash=cipher.keyed_hash(CCCD),
                        id_last=CCCD[-2:], key_id=cipher.key_id, stay_from=date(2026, 11, 23)))
    finally:
        await db.close()

    raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal"))
                   if p.exists())
    assert b"Nguy" in raw  # the file really holds the row (names are not encrypted)
    for needle in (CCCD.encode("ascii"), CCCD.encode("utf-16-le"), CCCD.encode("utf-16-be")):
        assert needle not in raw

    db = Database(make_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        async with db.read() as s:
            guest = (await s.execute(select(Guest).where(
                Guest.id_hash == cipher.keyed_hash(CCCD)))).scalar_one()
            assert guest.full_name == "Nguyễn Văn Khách"
            assert cipher.decrypt(guest.id_cipher, CTX, guest.key_id) == CCCD
            assert (await s.execute(select(Guest).where(
                Guest.id_hash == cipher.keyed_hash("001203012346")))).first() is None
    finally:
        await db.close()
