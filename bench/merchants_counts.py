"""Time service_items_by_county, programmes_by_county and the public directory's first page at a
size well beyond any city (5,000 merchants, 20,000 offers). Data is created inside a transaction
that is rolled back. Run: DEBUG=1 DATABASE_URL=... python bench/merchants_counts.py"""

import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from benefits.selectors import programmes_by_county  # noqa: E402
from members.models import Union  # noqa: E402
from merchants.models import Merchant, MerchantCategory, Offer  # noqa: E402
from merchants.selectors import service_items_by_county  # noqa: E402

MERCHANTS, OFFERS_EACH = 5000, 4
SMOKE = "--smoke" in sys.argv  # tiny sizes, one repetition: proves the script still runs (CI)
if SMOKE:
    MERCHANTS = 50


def timed(label, fn, repeat=5):
    repeat = 1 if SMOKE else repeat
    best = None
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
    print(
        f"{label:<40} best of {repeat}: {best * 1000:8.1f} ms, {len(ctx.captured_queries) // repeat} queries"
    )


class Rollback(Exception):
    pass


def main():
    counties = list(Union.objects.filter(level__in=["county", "industry"]))
    if not counties and SMOKE:
        from members import demo

        demo.load(members_total=0)
        counties = list(Union.objects.filter(level__in=["county", "industry"]))
    if not counties:
        sys.exit("load the demo first (manage.py load_demo)")
    categories = list(MerchantCategory.objects.all()) or [MerchantCategory.objects.create(name="医疗保健")]
    try:
        with transaction.atomic():
            merchants = Merchant.objects.bulk_create(
                Merchant(
                    name=f"压测商户{i}",
                    category=categories[i % len(categories)],
                    union=counties[i % len(counties)],
                    address="压测路",
                    contract_start=date(2016, 1, 1),
                    status="exited" if i % 10 == 0 else "active",
                    exited_on=date(2016, 6, 1) if i % 10 == 0 else None,
                    exit_reason="压测" if i % 10 == 0 else "",
                )
                for i in range(MERCHANTS)
            )
            Offer.objects.bulk_create(
                Offer(merchant=m, description=f"项目{j}", terms="8折", valid_from=date(2016, 1, 1))
                for m in merchants
                for j in range(OFFERS_EACH)
            )
            print(
                f"{connection.vendor}: {Merchant.objects.count()} merchants, {Offer.objects.count()} offers"
            )
            timed(
                "service_items_by_county(on=2016-12-31)",
                lambda: service_items_by_county(on=date(2016, 12, 31)),
            )
            timed("programmes_by_county(on=2016-12-31)", lambda: programmes_by_county(on=date(2016, 12, 31)))
            client = Client(HTTP_HOST="localhost")

            def get(**params):
                response = client.get("/merchants/directory/", params)
                assert response.status_code == 200, response.status_code

            timed("GET /merchants/directory/ (30 per page)", get)
            timed("GET /merchants/directory/?q=压测商户12", lambda: get(q="压测商户12"))
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
