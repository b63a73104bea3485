"""Writes of the subsidies: campaigns (create, change), the computation of an import's
subsidies (engine.py), and the monthly disbursement batch. Each service owns its transaction and
writes its audit row inside it."""

from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Sum

from benefits.models import BenefitProgramme, Disbursement, DisbursementLine
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from issuance.models import Card
from members.access import Cap, access_for
from members.models import Union

from . import engine
from .models import SubsidyCampaign, SubsidyEarning

E = SubsidyEarning.Status
CHANGEABLE = ("name", "description", "budget", "ends_on", "is_active")
HOW_TO_CLAIM = "无需申请：在工会特约商户用工会卡刷卡消费，符合条件的自动获得补贴，次月发放到工会卡。"


def campaign_problems(data: dict) -> list[str]:
    """Why a campaign's rule is incomplete or inconsistent (Chinese, one per problem)."""
    problems = []
    starts, ends = data.get("starts_on"), data.get("ends_on")
    if starts and ends and ends < starts:
        problems.append("结束日期不能早于开始日期")
    if data.get("rule") == SubsidyCampaign.Rule.FIXED:
        if not data.get("fixed_amount") or data["fixed_amount"] <= 0:
            problems.append("按每笔固定金额补贴时，须填写每笔补贴金额（大于0）")
    elif data.get("rule") == SubsidyCampaign.Rule.PERCENT:
        percent = data.get("percent")
        if percent is None or not Decimal("0") < percent <= Decimal("100"):
            problems.append("按比例返还时，须填写返还比例（0到100之间）")
    for key, label in (
        ("cap_per_txn", "每笔上限"),
        ("cap_per_member_month", "每人每月上限"),
        ("min_spend", "单笔最低消费"),
    ):
        if data.get(key) is not None and data[key] < 0:
            problems.append(f"{label}不能为负数")
    if data.get("budget") is not None and data["budget"] <= 0:
        problems.append("预算须大于0")
    return problems


def _require_manager(actor, union: Union) -> None:
    if actor is None:
        return
    access = access_for(actor)
    access.require(Cap.SUBSIDY_MANAGE)
    if not access.sees(union):
        raise ApplicationError("只能为本级及下级工会设立消费补贴活动", code="forbidden")


@transaction.atomic
def subsidy_campaign_create(
    *, actor, union: Union, fields: dict, merchants=(), categories=()
) -> SubsidyCampaign:
    _require_manager(actor, union)
    area = fields.get("area")
    if area is not None and not area.path.startswith(union.path):
        raise ApplicationError(f"所选县区/工会不属于{union.name}", code="forbidden")
    problems = campaign_problems(fields)
    if problems:
        raise ApplicationError("；".join(problems), code="invalid")
    campaign = SubsidyCampaign.objects.create(union=union, created_by=actor, **fields)
    campaign.merchants.set(merchants)
    campaign.categories.set(categories)
    campaign.programme = BenefitProgramme.objects.create(
        code=f"subsidy-{campaign.pk}",
        name=f"消费补贴：{campaign.name}"[:100],
        kind=BenefitProgramme.Kind.SUBSIDY,
        union=union,
        description=campaign.rule_text(),
        valid_from=campaign.starts_on,
        valid_until=campaign.ends_on,
        card_requirement=BenefitProgramme.CardRequirement.LIVE,
        requires_in_service=False,
        requires_hardship=campaign.audience == SubsidyCampaign.Audience.HARDSHIP,
        how_to_claim=HOW_TO_CLAIM,
        # a monthly line is one member's subsidies; neither can pass the budget
        max_per_member=campaign.budget,
        max_per_batch=campaign.budget,
    )
    campaign.save(update_fields=["programme"])
    audit_record(
        actor=actor,
        verb="subsidy_campaign.created",
        target=campaign,
        data={
            "rule": campaign.rule_text(),
            "budget": f"{campaign.budget:.2f}",
            "dates": f"{campaign.starts_on}..{campaign.ends_on}",
            "audience": campaign.audience,
            "area": area.code if area else None,
            "merchants": sorted(m.pk for m in merchants),
            "categories": sorted(c.pk for c in categories),
        },
    )
    return campaign


@transaction.atomic
def subsidy_campaign_update(*, campaign: SubsidyCampaign, actor, changes: dict) -> SubsidyCampaign:
    """Name, description, budget (never below what is spent), end date, on/off. The rule itself
    does not change once subsidies may have been earned under it: start a new campaign."""
    _require_manager(actor, campaign.union)
    campaign = SubsidyCampaign.objects.select_for_update().get(pk=campaign.pk)
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ApplicationError("补贴规则设立后不能修改，请停用后另建活动", code="rule_frozen")
    before = {k: str(getattr(campaign, k)) for k in changes}
    for key, value in changes.items():
        setattr(campaign, key, value)
    if campaign.budget < campaign.spent:
        raise ApplicationError(f"预算不能低于已使用的{campaign.spent}元", code="budget")
    problems = campaign_problems({"starts_on": campaign.starts_on, "ends_on": campaign.ends_on})
    if problems:
        raise ApplicationError("；".join(problems), code="invalid")
    campaign.save(update_fields=list(changes))
    if campaign.programme_id:
        BenefitProgramme.objects.filter(pk=campaign.programme_id).update(
            valid_until=campaign.ends_on,
            is_active=campaign.is_active,
            max_per_member=campaign.budget,
            max_per_batch=campaign.budget,
        )
    audit_record(
        actor=actor,
        verb="subsidy_campaign.changed",
        target=campaign,
        data={"before": before, "after": {k: str(getattr(campaign, k)) for k in changes}},
    )
    return campaign


def subsidies_compute(*, txn_import_id: int) -> engine.Outcome:
    """The subsidies of one import, for every active campaign (the Celery task's body)."""
    return engine.compute_import(txn_import_id)


# A month's batch is set-based: the members' nets, their lines and the earnings they pay are each
# one statement over the campaign's due earnings, whatever the city's size (PostgreSQL, and SQLite
# >= 3.33 for UPDATE … FROM). Due: not yet in a batch, or in a batch line the bank failed to pay
# (offered again). ROUND keeps SQLite's float sums to the cent; PostgreSQL's numeric sum is exact.
_NETS = """
SELECT e.member_id, ROUND(SUM(e.amount), 2) AS net
FROM subsidies_subsidyearning AS e
WHERE e.campaign_id = %(campaign)s AND e.month <= %(month)s
  AND (e.status = %(earned)s
       OR (e.status = %(batched)s AND e.line_id IN (SELECT f.id FROM benefits_disbursementline AS f
                                                    WHERE f.status = %(failed)s)))
GROUP BY e.member_id HAVING ROUND(SUM(e.amount), 2) > 0
"""
# the member's live card when it has a number (the database allows one live card a member)
_NUMBERED_CARD = "issuance_card AS c ON c.member_id = n.member_id AND c.status IN ({})".format(
    ", ".join(f"'{status}'" for status in Card.NUMBERED_LIVE)
)
_COUNT_NETS = f"SELECT COUNT(*), COUNT(c.id) FROM ({_NETS}) AS n LEFT JOIN {_NUMBERED_CARD}"
# Every column without a database default is named: the ORM's defaults do not apply here.
_INSERT_LINES = f"""
INSERT INTO benefits_disbursementline (disbursement_id, member_id, card_id, card_number, name, amount,
                                       status, bank_reference, failure_reason)
SELECT %(disbursement)s, n.member_id, c.id, c.number, m.name, n.net, %(pending)s, '', ''
FROM ({_NETS}) AS n JOIN {_NUMBERED_CARD} JOIN members_member AS m ON m.id = n.member_id
ORDER BY n.member_id
"""
# The due earnings of the members who now have a line point at it: one join on member.
_MARK_BATCHED = """
UPDATE subsidies_subsidyearning AS e SET status = %(batched)s, line_id = l.id
FROM benefits_disbursementline AS l
WHERE l.disbursement_id = %(disbursement)s AND e.member_id = l.member_id
  AND e.campaign_id = %(campaign)s AND e.month <= %(month)s
  AND (e.status = %(earned)s
       OR (e.status = %(batched)s AND e.line_id IN (SELECT f.id FROM benefits_disbursementline AS f
                                                    WHERE f.status = %(failed)s)))
"""


def _run(sql: str, params: dict):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else cursor.rowcount


@transaction.atomic
def subsidy_batch_build(*, campaign: SubsidyCampaign, month: date, actor=None) -> dict:
    """One draft disbursement batch (benefits' four-eyes workflow from here: the preparer submits,
    a higher union approves, the bank file, the bank's result) of every member's net subsidies up
    to `month`: the sum of their earnings less any take-backs. A member whose net is not positive,
    or who has no numbered live card now, is carried to the next month (and counted)."""
    _require_manager(actor, campaign.union)
    campaign = (
        SubsidyCampaign.objects.select_for_update(of=("self",))
        .select_related("union", "programme")
        .get(pk=campaign.pk)
    )
    month = month.replace(day=1)
    params = {
        "campaign": campaign.pk,
        "month": month.isoformat(),
        "earned": E.EARNED,
        "batched": E.BATCHED,
        "failed": DisbursementLine.Status.FAILED,
        "pending": DisbursementLine.Status.PENDING,
    }
    members, payable = _run(_COUNT_NETS, params)
    result = {"disbursement": None, "count": 0, "no_card": members - payable, "total": Decimal("0.00")}
    if not payable:
        return result
    preparer = actor or campaign.created_by
    disbursement = Disbursement.objects.create(
        name=f"{campaign.name} {month:%Y年%m月}消费补贴"[:100],
        kind=Disbursement.Kind.CLAIMS,
        union=campaign.union,
        programme=campaign.programme,
        created_by=preparer,
    )
    params["disbursement"] = disbursement.pk
    _run(_INSERT_LINES, params)
    _run(_MARK_BATCHED, params)
    written = disbursement.lines.aggregate(count=Count("id"), total=Sum("amount"))
    result.update(count=written["count"], no_card=members - written["count"], total=written["total"])
    result["disbursement"] = disbursement
    audit_record(
        actor=preparer,
        verb="disbursement.created",
        target=disbursement,
        data={"kind": disbursement.kind, "source": "subsidies", "campaign": campaign.pk},
    )
    audit_record(
        actor=actor,
        verb="subsidy_campaign.batch_built",
        target=campaign,
        data={
            "month": f"{month:%Y-%m}",
            "disbursement": disbursement.pk,
            "count": result["count"],
            "total": str(result["total"]),
            "no_card": result["no_card"],
        },
    )
    return result


def subsidy_monthly_batches(*, month: date) -> list[dict]:
    """The beat task's body: last month's batch for every campaign that has subsidies due."""
    results = []
    for campaign in SubsidyCampaign.objects.filter(
        pk__in=SubsidyEarning.objects.filter(status=E.EARNED, month__lte=month).values("campaign_id")
    ).order_by("id"):
        results.append(subsidy_batch_build(campaign=campaign, month=month, actor=None))
    return results
