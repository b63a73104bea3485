from cryptography.fernet import Fernet

from cardportal import crypto


def test_encrypted_value_round_trips_and_hides_the_number():
    token = crypto.encrypt("11010519491231002X")
    assert "11010519491231002X" not in token
    assert crypto.decrypt(token) == "11010519491231002X"


def test_keys_rotate_old_tokens_still_decrypt_and_rotate_to_the_new_key(settings):
    old_key = settings.PII_KEYS[0]
    token = crypto.encrypt("13800138000")
    new_key = Fernet.generate_key().decode()
    settings.PII_KEYS = [new_key, old_key]
    assert crypto.decrypt(token) == "13800138000"
    rotated = crypto.rotate(token)
    settings.PII_KEYS = [new_key]
    assert crypto.decrypt(rotated) == "13800138000"


def test_keyed_hash_is_stable_and_depends_on_the_key(settings):
    first = crypto.keyed_hash("11010519491231002X")
    assert first == crypto.keyed_hash("11010519491231002X")
    settings.PII_HASH_KEY = "another-key"
    assert crypto.keyed_hash("11010519491231002X") != first


def test_masks():
    assert crypto.mask_id_number("13090219850304123X") == "130902********123X"
    assert crypto.mask_phone("13800138000") == "138****8000"
