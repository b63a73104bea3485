"""Protection of personal data (ID numbers, phones).

* `encrypt`/`encrypt_many`/`decrypt`: AES-256-GCM tokens (`2.` + key id + nonce + ciphertext and
  tag, urlsafe base64). Keys rotate: the first key in settings.PII_KEYS encrypts, every listed key
  decrypts, `pii_rotate` re-encrypts old tokens. Fernet tokens written before the switch still
  decrypt (through a MultiFernet of the same keys) until `pii_rotate` has rewritten them.
* `keyed_hash`: HMAC-SHA256 under settings.PII_HASH_KEY, truncated to 128 bits (32 hex
  characters), for database uniqueness and exact look-up without decrypting anything. 128 bits
  keep collisions out of reach (about 1 in 10^24 for 15 million people) and make the unique index
  that every registration writes at random places less than half the size of a 256-bit one.
* `mask_id_number` / `mask_phone`: the only forms shown on pages, exports and the admin.
"""

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from cryptography import fernet
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# "." is outside the urlsafe-base64 alphabet, so no Fernet token (they start "gAAAA") has it.
VERSION = "2."
# Three bytes are exactly four base64 characters, and the 12-byte nonce exactly sixteen more: the
# text `VERSION + key id` is the same for every token of a key, so "already under the current key"
# is a plain prefix test, in Python or in SQL, without decrypting.
KEY_ID_BYTES = 3
NONCE_BYTES = 12
_KEY_INFO = b"cardportal/pii/aes-256-gcm"
_KEY_ID_INFO = b"cardportal/pii/key-id"
_PREFIX_LEN = len(VERSION) + KEY_ID_BYTES * 4 // 3
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_STANDARD = bytes.maketrans(b"-_", b"+/")


class InvalidToken(fernet.InvalidToken):
    """A token that no configured key opens: tampered, truncated, or made under a key that is no
    longer in PII_KEYS. A subclass of Fernet's, so code catching that still catches both formats."""


_Aead = Callable[[bytes, bytes, bytes | None], bytes]  # AESGCM.encrypt / .decrypt, bound


class _Keyring(NamedTuple):
    prefix: str  # VERSION + the first key's id: every token `encrypt` makes starts with it
    seal: _Aead  # the first key's AESGCM.encrypt
    open_by_prefix: dict[str, _Aead]  # VERSION + key id -> that key's AESGCM.decrypt
    legacy: fernet.MultiFernet


def _hkdf(raw_key: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(raw_key)


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


@lru_cache(maxsize=4)
def _keyring(keys: tuple[str, ...]) -> _Keyring:
    """One AES-256-GCM key and key id per configured key, each derived with HKDF under its own
    label, so the AES key is independent of the halves Fernet uses from the same secret."""
    legacy = fernet.MultiFernet([fernet.Fernet(k.encode()) for k in keys])  # also validates them
    raw_by_prefix, open_by_prefix, seals = {}, {}, []
    for key in keys:
        raw = base64.urlsafe_b64decode(key.encode())
        prefix = VERSION + _b64(_hkdf(raw, _KEY_ID_INFO, KEY_ID_BYTES))
        if raw_by_prefix.setdefault(prefix, raw) != raw:  # 1 in 16 million for two random keys
            raise ImproperlyConfigured("Two keys in PII_KEYS share a key id: generate the new key again.")
        aead = AESGCM(_hkdf(raw, _KEY_INFO, 32))
        open_by_prefix.setdefault(prefix, aead.decrypt)
        seals.append((prefix, aead.encrypt))
    return _Keyring(seals[0][0], seals[0][1], open_by_prefix, legacy)


def _current() -> _Keyring:
    return _keyring(tuple(settings.PII_KEYS))


def encrypt(value: str) -> str:
    return encrypt_many([value])[0]


def encrypt_many(values: list[str]) -> list[str]:
    """`encrypt` for a whole batch: one urandom call for every nonce, the key looked up once."""
    prefix, seal, _, _ = _current()
    nonces = os.urandom(NONCE_BYTES * len(values))
    b2a, urlsafe, step = binascii.b2a_base64, _URLSAFE, NONCE_BYTES
    tokens = []
    append = tokens.append
    for i, value in enumerate(values):
        nonce = nonces[i * step : i * step + step]
        sealed = nonce + seal(nonce, value.encode(), None)
        append(prefix + b2a(sealed, newline=False).translate(urlsafe).rstrip(b"=").decode())
    return tokens


def decrypt(token: str) -> str:
    ring = _current()
    if not token.startswith(VERSION):
        try:
            return ring.legacy.decrypt(token.encode()).decode()
        except fernet.InvalidToken:
            raise InvalidToken("Not a token of any key in PII_KEYS (legacy Fernet format).") from None
    open_ = ring.open_by_prefix.get(token[:_PREFIX_LEN])
    if open_ is None:
        raise InvalidToken("Token made under a key that is not in PII_KEYS (dropped before pii_rotate?).")
    body = token[_PREFIX_LEN:]
    try:
        raw = binascii.a2b_base64(
            (body + "=" * (-len(body) % 4)).encode().translate(_STANDARD), strict_mode=True
        )
        return open_(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()
    except (binascii.Error, InvalidTag, ValueError):
        raise InvalidToken("Token fails authentication: tampered or truncated.") from None


def current_prefix() -> str:
    """The text every token `encrypt` makes now starts with: a token that starts with it is
    already under the first key, and one that does not needs `rotate` (no decryption to tell)."""
    return _current().prefix


def rotate(token: str) -> str:
    """Re-encrypt a token, Fernet or AES-GCM, under the primary key (a current one is re-issued too)."""
    return encrypt(decrypt(token))


def keyed_hash(value: str) -> str:
    return keyed_hash_many([value])[0]


def keyed_hash_many(values: list[str]) -> list[str]:
    """`keyed_hash` for a whole batch. HMAC (RFC 2104) from the key's inner and outer SHA-256
    states, computed once and copied per value: `hmac.digest` sets the key up again on every call
    (OpenSSL 3 fetches the digest each time), twice the cost of the copies."""
    inner, outer = _hmac_states(settings.PII_HASH_KEY)
    inner_copy, outer_copy = inner.copy, outer.copy
    out = []
    append = out.append
    for value in values:
        i = inner_copy()
        i.update(value.encode())
        o = outer_copy()
        o.update(i.digest())
        append(o.digest()[:16].hex())
    return out


@lru_cache(maxsize=4)
def _hmac_states(key_text: str):
    """SHA-256 states after absorbing key XOR ipad and key XOR opad (RFC 2104, 64-byte blocks)."""
    key = key_text.encode()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in key)),
        hashlib.sha256(bytes(b ^ 0x5C for b in key)),
    )


def mask_id_number(id_number: str) -> str:
    """130902********123X: region code kept, birth date and sequence hidden, last four kept."""
    if not id_number:
        return ""
    if len(id_number) != 18:
        return "*" * max(len(id_number) - 4, 0) + id_number[-4:]
    return f"{id_number[:6]}{'*' * 8}{id_number[-4:]}"


def mask_id_parts(region: str, last4: str) -> str:
    """The masked form from the non-secret parts kept beside the ciphertext (no decryption)."""
    return f"{region}{'*' * 8}{last4}"


def mask_phone(phone: str) -> str:
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"
