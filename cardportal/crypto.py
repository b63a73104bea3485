"""Protection of personal data (ID numbers, phones).

* `encrypt`/`decrypt`: Fernet tokens under a MultiFernet, so keys rotate: the first key in
  settings.PII_KEYS encrypts, every listed key decrypts, `pii_rotate` re-encrypts old tokens.
* `keyed_hash`: HMAC-SHA256 under settings.PII_HASH_KEY, truncated to 128 bits (32 hex
  characters), for database uniqueness and exact look-up without decrypting anything. 128 bits
  keep collisions out of reach (about 1 in 10^24 for 15 million people) and make the unique index
  that every registration writes at random places less than half the size of a 256-bit one.
* `mask_id_number` / `mask_phone`: the only forms shown on pages, exports and the admin.
"""

import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.PII_KEYS))


def encrypt(value: str) -> str:
    return _current().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _current().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """Re-encrypt a token under the primary key (a token already under it is re-issued too)."""
    return _current().rotate(token.encode()).decode()


@lru_cache(maxsize=4)
def _hash_key(key: str) -> bytes:
    return key.encode()


def keyed_hash(value: str) -> str:
    return hmac.digest(_hash_key(settings.PII_HASH_KEY), value.encode(), "sha256")[:16].hex()


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
