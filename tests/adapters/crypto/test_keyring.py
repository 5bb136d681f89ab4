"""The keyring: AES-256-GCM round trips, refusal of altered, moved or foreign values, the blind index."""

from __future__ import annotations

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
