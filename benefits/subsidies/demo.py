"""Demo subsidy campaign (load_demo calls `load` after the card usage demo): the city's 5 % back at
every union merchant, capped per purchase and per member a month, over the demo's recent months;
subsidies computed for whatever transactions the usage demo imported, and last month's batch
drafted for the city staff to submit."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from members.models import StaffRole, Union
from merchants.usage.models import TxnImport

from . import services
from .models import SubsidyCampaign

NAME = "工会特约商户刷卡消费补贴"


def load(*, stdout) -> None:
    if SubsidyCampaign.objects.filter(name=NAME).exists():
        return
    city = Union.objects.filter(level=Union.Level.CITY).order_by("code").first()
    staff = (
        StaffRole.objects.filter(role=StaffRole.Role.CITY_STAFF, union=city).select_related("user").first()
    )
    if city is None or staff is None:
        return
    today = timezone.localdate()
    campaign = services.subsidy_campaign_create(
        actor=staff.user,
        union=city,
        fields={
            "name": NAME,
            "description": "在工会特约商户用工会卡刷卡消费，按消费金额的5%返还补贴，次月发放到卡（扬州市总工会实施意见 二(一)2）。",
            "rule": SubsidyCampaign.Rule.PERCENT,
            "percent": Decimal("5"),
            "cap_per_txn": Decimal("20"),
            "cap_per_member_month": Decimal("100"),
            "budget": Decimal("500000"),
            "starts_on": (today.replace(day=1) - timedelta(days=40)).replace(day=1),
            "ends_on": today + timedelta(days=180),
        },
    )
    for import_id in TxnImport.objects.order_by("id").values_list("id", flat=True):
        services.subsidies_compute(txn_import_id=import_id)
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    result = services.subsidy_batch_build(campaign=campaign, month=last_month, actor=staff.user)
    campaign.refresh_from_db()
    stdout.write(
        f"消费补贴：活动“{campaign.name}”，已产生补贴 {campaign.spent} 元，"
        f"上月发放批次草稿 {result['count']} 人。"
    )
