"""The keyring: AES-256-GCM round trips, refusal of altered, moved or foreign values, the blind index."""

from __future__ import annotations

import hmac
import os
import threading

import pytest

from rcmflow.adapters.crypto.keyfile import generate_keyring, with_new_key, without_key
from rcmflow.adapters.crypto.keyring import NONCE_BYTES, TAG_BYTES, DecryptionError, Keyring, header, key_id_of
from rcmflow.errors import ConfigurationError

LABEL = "claims.member_id"


def test_a_value_round_trips_and_names_its_key() -> None:
    keyring = generate_keyring()
    stored = keyring.encrypt(b"XKB884120301", LABEL)

    assert keyring.decrypt(stored, LABEL) == b"XKB884120301"
    assert key_id_of(stored) == keyring.current
    assert stored.startswith(header(keyring.current))
    assert len(stored) == len(header(keyring.current)) + NONCE_BYTES + len(b"XKB884120301") + TAG_BYTES
    assert b"XKB884120301" not in stored


def test_the_same_value_encrypts_differently_each_time() -> None:
    keyring = generate_keyring()
    assert keyring.encrypt(b"same", LABEL) != keyring.encrypt(b"same", LABEL)


@pytest.mark.parametrize("position", [0, 1, 5, -20, -1])
def test_a_flipped_byte_is_refused_naming_the_column_not_the_value(position: int) -> None:
    keyring = generate_keyring()
    stored = bytearray(keyring.encrypt(b"Rivera", LABEL))
    stored[position] ^= 0x01

    with pytest.raises(DecryptionError) as raised:
        keyring.decrypt(bytes(stored), LABEL)

    assert LABEL in str(raised.value) and "Rivera" not in str(raised.value)


def test_a_value_moved_to_another_column_is_refused() -> None:
    keyring = generate_keyring()
    stored = keyring.encrypt(b"Rivera", "eligibility_responses.last_name")

    with pytest.raises(DecryptionError, match=rf"eligibility_responses\.first_name.*{keyring.current}"):
        keyring.decrypt(stored, "eligibility_responses.first_name")


def test_a_value_under_a_key_the_keyring_lacks_names_the_key() -> None:
    old = generate_keyring()
    stored = old.encrypt(b"Rivera", LABEL)

    with pytest.raises(DecryptionError, match=rf"{old.current}.*lacks"):
        generate_keyring().decrypt(stored, LABEL)
    with pytest.raises(DecryptionError, match="format version"):
        old.decrypt(b"plain text", LABEL)


def test_a_rotated_keyring_reads_old_values_and_writes_under_the_new_key() -> None:
    old = generate_keyring()
    stored = old.encrypt(b"Rivera", LABEL)
    rotated = with_new_key(old)

    assert rotated.current != old.current and set(rotated.keys) == {old.current, rotated.current}
    assert rotated.decrypt(stored, LABEL) == b"Rivera"
    assert key_id_of(rotated.encrypt(b"Rivera", LABEL)) == rotated.current
    assert rotated.index_key == old.index_key  # blind indexes stay valid
    with pytest.raises(ConfigurationError, match="current key"):
        without_key(rotated, rotated.current)
    assert set(without_key(rotated, old.current).keys) == {rotated.current}


def test_the_blind_index_is_keyed_normalised_and_opaque() -> None:
    keyring = generate_keyring()
    index = keyring.blind_index(" xkb884120301 ")

    assert index == keyring.blind_index("XKB884120301")
    assert index is not None and len(index) == 64 and int(index, 16) >= 0
    assert index != keyring.blind_index("XKB884120302")
    assert index != generate_keyring().blind_index("XKB884120301")  # another index key, another index
    assert keyring.blind_index(None) is None and keyring.blind_index("  ") is None


@pytest.mark.parametrize("value", ["XKB884120301", "m0001", "É" * 40, "x" * 200, "A B-C/D"])
def test_the_blind_index_is_hmac_sha256_of_the_normalised_value(value: str) -> None:
    # Values already stored were indexed with hmac.digest: the copies of the keyed HMAC must give the same index.
    keyring = generate_keyring()
    expected = hmac.digest(keyring.index_key, value.strip().upper().encode("utf-8"), "sha256").hex()
    assert keyring.blind_index(f"  {value.lower()} ") == expected


def test_bulk_encryption_and_indexing_make_no_call_that_releases_the_gil_per_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # os.urandom and the one-shot HMAC release the GIL on every call: beside intake's writer and read-ahead
    # threads each call then waited up to a switch interval (5 ms) for it. Nonces come from a buffer refilled
    # 4,096 at a time, indexes from copies of an HMAC keyed once.
    keyring = generate_keyring()
    calls: list[int] = []
    real_urandom = os.urandom
    monkeypatch.setattr(os, "urandom", lambda size: calls.append(size) or real_urandom(size))
    monkeypatch.setattr(hmac, "digest", lambda *_: pytest.fail("hmac.digest called per value"))
    for number in range(5_000):
        keyring.blind_index(f"M{number:09d}")
        keyring.encrypt(b"JANE DOE", LABEL)
    assert len(calls) <= 2 and all(size == 4_096 * NONCE_BYTES for size in calls)


def test_nonces_are_never_reused_across_refills_and_threads() -> None:
    keyring = generate_keyring()
    nonces: list[bytes] = []

    def encrypt_many() -> None:
        nonces.extend(keyring.encrypt(b"v", LABEL)[len(header(keyring.current)):][:NONCE_BYTES] for _ in range(5_000))

    threads = [threading.Thread(target=encrypt_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(nonces) == 15_000 and len(set(nonces)) == 15_000  # more than three refills of 4,096


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_does_not_reuse_the_parents_buffered_nonces() -> None:
    keyring = generate_keyring()
    parent_next = keyring.encrypt(b"v", LABEL)  # fills the buffer; the rest of it is the parent's
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next nonce, to the parent
        os.close(read)
        start = len(header(keyring.current))
        os.write(write, keyring.encrypt(b"v", LABEL)[start:start + NONCE_BYTES])
        os._exit(0)
    os.close(write)
    child_nonce = os.read(read, NONCE_BYTES)
    os.close(read)
    os.waitpid(pid, 0)
    start = len(header(keyring.current))
    parent_nonce = keyring.encrypt(b"v", LABEL)[start:start + NONCE_BYTES]
    assert len(child_nonce) == NONCE_BYTES
    assert child_nonce != parent_nonce and parent_next[start:start + NONCE_BYTES] != child_nonce


def test_malformed_keyrings_are_configuration_errors() -> None:
    keyring = generate_keyring()
    key = keyring.keys[keyring.current]
    with pytest.raises(ConfigurationError, match="32 bytes"):
        Keyring({"k1": b"short"}, "k1", keyring.index_key)
    with pytest.raises(ConfigurationError, match="not among"):
        Keyring({"k1": key}, "k2", keyring.index_key)
    with pytest.raises(ConfigurationError, match="must differ"):
        Keyring({"k1": key}, "k1", key)
    with pytest.raises(ConfigurationError, match="key id"):
        Keyring({"bad id!": key}, "bad id!", keyring.index_key)
