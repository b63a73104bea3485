"""The one place that asks the merchants and benefits apps how many service items each county
offers. Those apps are built on other branches; until their selectors exist on this branch this
returns an empty dict and the pages show "—" (the assessment then scores every county at the
city average, 20 points, and says so)."""

from datetime import date
from importlib import import_module


def _call(module_name: str, function: str, on: date) -> dict[int, int] | None:
    try:
        module = import_module(module_name)
    except ModuleNotFoundError:
        return None
    func = getattr(module, function, None)
    return func(on=on) if func is not None else None


def service_items_by_county(*, on: date) -> dict[int, int] | None:
    """county union id -> merchant offers + benefit programmes available to its members on `on`.
    None when neither source exists yet (not the same as zero items)."""
    merchants = _call("merchants.selectors", "service_items_by_county", on)
    benefits = _call("benefits.selectors", "programmes_by_county", on)
    if merchants is None and benefits is None:
        return None
    total: dict[int, int] = {}
    for source in (merchants or {}, benefits or {}):
        for county_id, n in source.items():
            total[county_id] = total.get(county_id, 0) + n
    return total
