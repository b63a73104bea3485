import base64
import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet, InvalidToken

from cardportal import crypto

# A token made under FIXED_KEY when the AES-GCM format was introduced: if the key derivation,
# the key id or the layout ever changes, every stored token stops decrypting, and this fails.
FIXED_KEY = "wYf1lWbKXr3yYkq0bQ7lW9r6l0sFq0aZ4qYbq2rV1cA="
FIXED_TOKEN = "2.2fYvy0sOabwrr62kGqmpu3DYBO2uzhRGbJsVz_vKpkEj2tUlc5EAiC5mVt6irgbXmg"


def raw_bytes(token: str) -> bytearray:
    body = token[len(crypto.VERSION) :]
    return bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def as_token(raw: bytes) -> str:
    return crypto.VERSION + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_encrypted_value_round_trips_and_hides_the_number():
    token = crypto.encrypt("11010519491231002X")
    assert "11010519491231002X" not in token
    assert crypto.decrypt(token) == "11010519491231002X"


def test_new_tokens_name_their_key_and_are_much_shorter_than_fernet(settings):
    token = crypto.encrypt("11010519491231002X")
    fernet_token = Fernet(settings.PII_KEYS[0].encode()).encrypt(b"11010519491231002X").decode()
    assert token.startswith(crypto.current_prefix())
    assert len(crypto.current_prefix()) == len("2.") + 4  # version, then a 3-byte key id
    assert len(raw_bytes(token)) == 3 + 12 + 18 + 16  # key id, nonce, ciphertext, tag
    assert (len(token), len(fernet_token)) == (68, 120)


def test_the_token_format_is_stable(settings):
    settings.PII_KEYS = [FIXED_KEY]
    assert crypto.current_prefix() == "2.2fYv"
    assert crypto.decrypt(FIXED_TOKEN) == "13090219850304123X"


def test_two_encryptions_of_one_value_differ():
    first, second = crypto.encrypt("13800138000"), crypto.encrypt("13800138000")
    assert first != second
    assert raw_bytes(first)[3:15] != raw_bytes(second)[3:15]  # the nonces
    assert crypto.decrypt(first) == crypto.decrypt(second) == "13800138000"


def test_encrypt_many_round_trips_with_a_fresh_nonce_per_value():
    values = ["11010519491231002X", "13800138000", "", "13800138000"]
    tokens = crypto.encrypt_many(values)
    assert [crypto.decrypt(t) for t in tokens] == values
    assert len({bytes(raw_bytes(t)[3:15]) for t in tokens}) == 4
    assert crypto.encrypt_many([]) == []


def test_legacy_fernet_token_still_decrypts_and_rotates_into_the_new_format(settings):
    legacy = Fernet(settings.PII_KEYS[0].encode()).encrypt(b"11010519491231002X").decode()
    assert crypto.decrypt(legacy) == "11010519491231002X"
    rotated = crypto.rotate(legacy)
    assert rotated.startswith(crypto.current_prefix())
    assert crypto.decrypt(rotated) == "11010519491231002X"


def test_keys_rotate_old_tokens_still_decrypt_and_rotate_to_the_new_key(settings):
    old_key = settings.PII_KEYS[0]
    token = crypto.encrypt("13800138000")
    new_key = Fernet.generate_key().decode()
    settings.PII_KEYS = [new_key, old_key]
    assert crypto.decrypt(token) == "13800138000"
    rotated = crypto.rotate(token)
    assert rotated.startswith(crypto.current_prefix()) and not token.startswith(crypto.current_prefix())
    settings.PII_KEYS = [new_key]
    assert crypto.decrypt(rotated) == "13800138000"
    with pytest.raises(crypto.InvalidToken, match="not in PII_KEYS"):
        crypto.decrypt(token)


def test_legacy_token_of_a_dropped_key_fails_clearly(settings):
    legacy = Fernet(settings.PII_KEYS[0].encode()).encrypt(b"13800138000").decode()
    settings.PII_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.InvalidToken, match="legacy Fernet"):
        crypto.decrypt(legacy)


def test_token_of_an_unknown_key_fails_and_is_still_a_fernet_invalid_token(settings):
    settings.PII_KEYS = [Fernet.generate_key().decode()]
    foreign = crypto.encrypt("13800138000")
    settings.PII_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(InvalidToken, match="not in PII_KEYS"):  # what callers of Fernet caught
        crypto.decrypt(foreign)


@pytest.mark.parametrize("index", [3, 15, -17, -1], ids=["nonce", "ciphertext", "last-of-ciphertext", "tag"])
def test_tampered_token_fails(index):
    token = crypto.encrypt("11010519491231002X")
    raw = raw_bytes(token)
    raw[index] ^= 0x01
    with pytest.raises(crypto.InvalidToken, match="tampered"):
        crypto.decrypt(as_token(raw))


@pytest.mark.parametrize("cut", [1, 30, 60])
def test_truncated_token_fails(cut):
    token = crypto.encrypt("11010519491231002X")
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(token[:-cut])


def test_a_key_listed_twice_still_works(settings):
    settings.PII_KEYS = [FIXED_KEY, FIXED_KEY]
    assert crypto.decrypt(crypto.encrypt("13800138000")) == "13800138000"


def test_keyed_hash_is_the_first_128_bits_of_the_hmac_stable_and_depends_on_the_key(settings):
    first = crypto.keyed_hash("11010519491231002X")
    key = settings.PII_HASH_KEY.encode()
    # The first 32 hex characters of HMAC-SHA256: what migration members/0004 kept of old hashes.
    assert first == hmac.new(key, b"11010519491231002X", hashlib.sha256).hexdigest()[:32]
    assert first == crypto.keyed_hash("11010519491231002X")
    settings.PII_HASH_KEY = "another-key"
    assert crypto.keyed_hash("11010519491231002X") != first


def test_masks():
    assert crypto.mask_id_number("13090219850304123X") == "130902********123X"
    assert crypto.mask_phone("13800138000") == "138****8000"
