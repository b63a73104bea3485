"""The choices the seed leaves open, as settings. Override any key in settings.QUOTAS = {...}.

Every default is explained in docs/quotas.md; the pages print the ones they use."""

from decimal import Decimal

from django.conf import settings

DEFAULTS: dict = {
    # What counts as a card "issued" (发卡数): the member's first card reached this stage.
    # "issued" = the bank has made the card; "distributed" = it is in the member's hands.
    "ISSUED_METRIC": "issued",
    # Activation rate (激活率) = activated ÷ this: "issued" or "distributed".
    "ACTIVATION_DENOMINATOR": "issued",
    # Percentage points and items above/below a mark turn into points by:
    # "truncate" (only whole points count, toward zero), "round" (half up), "exact" (to 0.01).
    "POINT_ROUNDING": "truncate",
    # Ties: "shared" = tied places share the higher place and the next place skips (1, 2, 2, 4);
    # "dense" = the next place does not skip (1, 2, 2, 3).
    "RANK_TIES": "shared",
    "QUARTER_FIRST_POINTS": Decimal("7"),
    "QUARTER_STEP": Decimal("0.5"),
    "QUARTER_MIN_POINTS": Decimal("0"),  # the 22nd place would get -3.5; no place scores below this
    "FIRST_QUARTER": {2016: 2},  # 2016 is the launch year: the ranking starts with Q2
    "CRITICISM_PENALTY": Decimal("1"),
    "COMPLETION_POINTS": Decimal("20"),
    "COMPLETION_PER_POINT": Decimal("0.5"),
    "COMPLETION_BONUS_CAP": None,  # None: the seed sets no ceiling on the +0.5 per point above
    "ACTIVATION_MARK_PERCENT": Decimal("60"),
    "ACTIVATION_POINTS": Decimal("20"),
    "ACTIVATION_CAP": Decimal("10"),
    # Service items compared with the city-wide average as "absolute" counts per county, or
    # "per_10k" = items per 10,000 declared members.
    "SERVICE_ITEMS_MODE": "absolute",
    "SERVICE_POINTS": Decimal("20"),
    "SERVICE_CAP": Decimal("10"),
    "LEADERSHIP_MAX": Decimal("3"),
    "MEASURES_MAX": Decimal("4"),
    "RESPONSIVENESS_MAX": Decimal("5"),
    "MISSED_REPORT_PENALTY": Decimal("0.5"),
    "AWARDS": (Decimal("300000.00"), Decimal("200000.00"), Decimal("150000.00")),
    "AWARD_OTHER_MET": Decimal("50000.00"),
    # A vetoed county (missed its yearly target) takes no award place: places 1-3 go to counties
    # that met their target. True lets vetoed counties hold a place (they still get no money).
    "VETOED_TAKE_PLACES": False,
    # 附件1 三(一)3: by the end of April each county's verified members (registered, i.e. whose
    # card was applied for) must be at least the card target the city set for the year.
    "APRIL_CHECK_MONTH": 4,
    # 附件1 三(一)6: by the end of June, cards issued and activated at least 40% of the year's
    # target. "new" = this year's own work (cards since January against the year's new cards);
    # "cumulative" = every card so far against the cumulative target.
    "MIDYEAR_CHECK_MONTH": 6,
    "MIDYEAR_PERCENT": Decimal("40"),
    "MIDYEAR_BASIS": "new",
    "MIDYEAR_METRICS": ("issued", "activated"),
}


def quotas_conf(overrides: dict | None = None) -> dict:
    conf = {**DEFAULTS, **getattr(settings, "QUOTAS", {})}
    if overrides:
        conf.update(overrides)
    return conf
