"""The one place that asks the merchants and benefits apps for figures: how many service items
each county offers (merchant offers plus benefit programmes available to its members), and how
many merchants signed in a week (the weekly summary)."""

from datetime import date

from benefits.selectors import programmes_by_county
from merchants.selectors import merchants_signed_between
from merchants.selectors import service_items_by_county as merchant_items_by_county


def service_items_by_county(*, on: date) -> dict[int, int]:
    """county union id -> merchant offers + benefit programmes available to its members on `on`."""
    total: dict[int, int] = {}
    for source in (merchant_items_by_county(on=on), programmes_by_county(on=on)):
        for county_id, n in source.items():
            total[county_id] = total.get(county_id, 0) + n
    return total


def merchants_signed(*, start: date, end: date) -> int:
    return merchants_signed_between(start=start, end=end)
