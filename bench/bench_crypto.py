"""PII encryption cost per token: Fernet (the old format) against AES-256-GCM (`crypto.encrypt`,
`crypto.encrypt_many`), and the keyed hash.

    DEBUG=1 .venv/bin/python bench/bench_crypto.py [--values 200000] [--repeat 3]

The values are what a 100,000-row sheet stages: half ID numbers, half phone numbers. Each figure
is the best of --repeat runs, in µs per value. Needs no database (only `django.setup()` for the
keys in settings).
"""

import argparse
import hashlib
import hmac
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from cryptography.fernet import Fernet, MultiFernet  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.common import SMOKE_HELP, smoke_requested  # noqa: E402
from cardportal import crypto  # noqa: E402
from members.idcard import make_id_number  # noqa: E402


def sample(count: int) -> list[str]:
    birth = date(1960, 1, 1)
    values = []
    for n in range(count // 2):
        values.append(make_id_number("130902", birth + timedelta(days=n % 15000), n, male=n % 2 == 0))
        values.append(f"138{n:08d}")
    return values


def best(fn, items: list[str], repeat: int) -> float:
    """The best of `repeat` runs of fn(items), in µs per item."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(items)
        times.append(time.perf_counter() - start)
    return min(times) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--values", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.values, args.repeat = 200, 1
    values = sample(args.values)
    legacy = MultiFernet([Fernet(k.encode()) for k in settings.PII_KEYS])  # what encrypt() was
    encrypt, decrypt = crypto.encrypt, crypto.decrypt
    fernet_tokens = [legacy.encrypt(v.encode()).decode() for v in values[:20_000]]
    gcm_tokens = crypto.encrypt_many(values)

    def decrypt_all(ts):
        return [decrypt(t) for t in ts]

    def keyed_hash_before(value):  # what keyed_hash was
        return hmac.new(settings.PII_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()

    def keyed_hash_bulk(vs):  # what a keyed_hash_many would be: the key read once
        digest, key = hmac.digest, settings.PII_HASH_KEY.encode()
        return [digest(key, v.encode(), "sha256").hex() for v in vs]

    rows = [
        (
            "encrypt: Fernet (MultiFernet.encrypt)",
            lambda vs: [legacy.encrypt(v.encode()).decode() for v in vs],
            values,
        ),
        ("encrypt: AES-GCM, crypto.encrypt per value", lambda vs: [encrypt(v) for v in vs], values),
        ("encrypt: AES-GCM, crypto.encrypt_many", crypto.encrypt_many, values),
        ("decrypt: Fernet token (first 20,000)", decrypt_all, fernet_tokens),
        ("decrypt: AES-GCM token", decrypt_all, gcm_tokens),
        (
            "keyed_hash: hmac.new(...).hexdigest() (before)",
            lambda vs: [keyed_hash_before(v) for v in vs],
            values,
        ),
        (
            "keyed_hash: crypto.keyed_hash (hmac.digest)",
            lambda vs: [crypto.keyed_hash(v) for v in vs],
            values,
        ),
        ("keyed_hash: bulk loop, key read once", keyed_hash_bulk, values),
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{len(values):,} values (ID numbers and phones), best of {args.repeat}, load {load}; µs per value:"
    )
    for label, fn, items in rows:
        print(f"  {label:<48} {best(fn, items, args.repeat):6.2f}")
    id_number, phone = values[0], values[1]
    fernet_id, fernet_phone = (legacy.encrypt(v.encode()).decode() for v in (id_number, phone))
    print("token length, ID number / phone:")
    print(f"  Fernet   {len(fernet_id)} / {len(fernet_phone)} characters")
    print(f"  AES-GCM  {len(encrypt(id_number))} / {len(encrypt(phone))} characters")


if __name__ == "__main__":
    main()
