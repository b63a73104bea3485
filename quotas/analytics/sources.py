"""Subsidy uptake, read through one small selector so the pages work before and after helper
`subsidy`'s app (label `subsidies`: SubsidyCampaign, SubsidyEarning) is installed. Nothing else
in analytics names the subsidy models: point this module at them if they change."""

from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.db.models import Count, Q, Sum

from members.access import scope_path, scope_queryset


@dataclass
class CampaignUptake:
    name: str
    budget: Decimal
    spent: Decimal  # the campaign's whole budget used (city-wide)
    members: int  # members in the user's scope who earned a subsidy
    earned: Decimal  # earned in the user's scope, refunds netted

    @property
    def spent_rate(self):
        return (self.spent * 100 / self.budget).quantize(Decimal("0.1")) if self.budget else None


def subsidies_installed() -> bool:
    return apps.is_installed("benefits.subsidies")


def subsidy_uptake(*, user) -> list[CampaignUptake]:
    if not subsidies_installed() or scope_path(user) is None:
        return []
    campaign_model = apps.get_model("subsidies", "SubsidyCampaign")
    earning_model = apps.get_model("subsidies", "SubsidyEarning")
    earnings = scope_queryset(earning_model.objects.exclude(status="cancelled"), user)
    by_campaign = {
        g["campaign_id"]: g
        for g in earnings.values("campaign_id")
        .annotate(members=Count("member_id", distinct=True), earned=Sum("amount"))
        .order_by()
    }
    path = scope_path(user)
    campaigns = campaign_model.objects.filter(Q(pk__in=list(by_campaign)) | Q(union__path__startswith=path))
    rows = [
        CampaignUptake(
            c.name,
            c.budget,
            c.spent,
            by_campaign.get(c.pk, {}).get("members", 0),
            by_campaign.get(c.pk, {}).get("earned") or Decimal(0),
        )
        for c in campaigns.order_by("-starts_on", "name")
    ]
    return rows
