"""The programmes the seeds describe (000 附件1, 附件2 Q6–Q8; 004 §二.3), as data. Used by the
demo and the tests; in production admins enter programmes in the admin."""

from datetime import date
from decimal import Decimal

from django.db import transaction

from members.models import Union

from .models import AmountTier, BenefitProgramme

ENTERPRISE = [Union.UnitType.ENTERPRISE, Union.UnitType.ENTERPRISE_MANAGED]
PUBLIC = [Union.UnitType.GOVERNMENT, Union.UnitType.INSTITUTION, Union.UnitType.OTHER]
K = BenefitProgramme.Kind

SEED_PROGRAMMES = [
    {
        "code": "cataract",
        "name": "白内障光明保障项目",
        "kind": K.SUBSIDY,
        "description": "持有效工会卡的在职在岗会员，在保障期内到指定医疗部门做白内障手术的定额补贴。",
        "member_may_claim": True,
        "how_to_claim": "手术后在“我的权益”中在线申请，上传医院收费票据或出院小结的照片；"
        "也可带票据到所在基层工会登记。审核通过后补贴打入工会卡。",
        "tiers": [
            ("企业和企业化管理事业单位", Decimal("500.00"), ENTERPRISE, False),
            ("机关和其他事业单位", Decimal("300.00"), PUBLIC, False),
        ],
    },
    {
        "code": "accidental-death",
        "name": "非工伤意外死亡救助",
        "kind": K.AID,
        "description": "因交通事故、溺水、中毒造成死亡的，给予定额救助。",
        "how_to_claim": "由家属持死亡证明、事故认定书到会员所在基层工会申请，工会经办人登记后报县总工会审核。",
        "tiers": [("定额救助", Decimal("5000.00"), [], False)],
    },
    {
        "code": "accident-fire",
        "name": "非工伤意外伤害及家庭财产火灾损失保障",
        "kind": K.PROTECTION,
        "description": "保障期内发生意外伤害造成身故、残疾及家庭财产（火灾）损失的，经审核给付保障金（冀工发〔2014〕15号）。",
        "member_may_claim": True,
        "how_to_claim": "在“我的权益”中在线申请，上传医院诊断证明、收费票据或消防部门火灾证明的照片；"
        "也可带材料到所在基层工会登记。",
        "tiers": [
            ("按时交纳会费", Decimal("30000.00"), [], True),
            ("基本保障", Decimal("20000.00"), [], False),
        ],
    },
    {
        "code": "opening-bonus",
        "name": "前期办卡会员开卡专享保障",
        "kind": K.BONUS,
        "description": "前期办卡会员开卡时，每卡20元直接打入个人卡内。",
        "how_to_claim": "无需申请：激活工会卡后由工会统一打入卡内。",
        "card_requirement": BenefitProgramme.CardRequirement.ACTIVATED,
        "once_per_member": True,
        "tiers": [("每卡", Decimal("20.00"), [], False)],
    },
    {
        "code": "legal-aid",
        "name": "免费法律援助",
        "kind": K.SERVICE,
        "description": "工会组织提供的法律咨询、法律援助和劳动争议调解。",
        "how_to_claim": "拨打职工服务热线12351，或到所在县（市、区）总工会职工服务中心。",
        "card_requirement": BenefitProgramme.CardRequirement.NONE,
        "tiers": [],
    },
    {
        "code": "job-introduction",
        "name": "免费职业介绍",
        "kind": K.SERVICE,
        "description": "就业培训、职业介绍等免费就业服务。",
        "how_to_claim": "到所在县（市、区）总工会职工服务中心登记。",
        "card_requirement": BenefitProgramme.CardRequirement.NONE,
        "requires_in_service": False,
        "tiers": [],
    },
]


@transaction.atomic
def programmes_seed(
    *, union: Union, valid_from: date = date(2016, 1, 1), early_cards_before: date | None = date(2016, 6, 30)
) -> dict[str, BenefitProgramme]:
    """Create (or return) the seed programmes run by `union`. Idempotent on `code`."""
    result = {}
    for spec in SEED_PROGRAMMES:
        spec = dict(spec)
        tiers = spec.pop("tiers")
        code = spec.pop("code")
        if code == "opening-bonus":
            spec["card_applied_before"] = early_cards_before
        programme, created = BenefitProgramme.objects.get_or_create(
            code=code, defaults={**spec, "union": union, "valid_from": valid_from}
        )
        if created:
            AmountTier.objects.bulk_create(
                AmountTier(
                    programme=programme,
                    order=i * 10,
                    label=label,
                    amount=amount,
                    unit_types=units,
                    requires_dues_paid=dues,
                )
                for i, (label, amount, units, dues) in enumerate(tiers, start=1)
            )
        result[code] = programme
    return result
