"""Amount rules of a disbursement batch: a cap per member (per line) and a cap on the batch total.

Where a rule comes from, in order:
1. the batch's programme, when it has one and the admin filled in `max_per_member` /
   `max_per_batch` (admin → 普惠服务项目 → 金额上限);
2. for the per-member cap of a programme batch, the programme's highest amount tier: a payment
   under a programme is never more than the programme pays (the seed amounts, 000 附件2
   Q6–Q8: cataract 500, accidental death 5,000, accident/fire 30,000, opening bonus 20);
3. otherwise the default of the batch's kind below.

The seeds name the aid kinds (送温暖, 金秋助学, 日常救助, 困难劳模帮扶, 竞赛奖金: 000 §二,
001 §三(一)5, 002 §一(二), 004 §二) but give no amount for any of them, so the kind defaults
are our judgement except where a source is named; the federation's finance department should
confirm them. Pure: no ORM queries except reading the programme's tiers.
"""

from dataclasses import dataclass
from decimal import Decimal

from .models import BenefitProgramme, Disbursement

K = Disbursement.Kind


@dataclass(frozen=True)
class Limits:
    per_member: Decimal
    per_batch: Decimal
    source: str  # Chinese, shown on the batch page: where the numbers come from

    def describe(self) -> str:
        return f"每人不超过{self.per_member:,.2f}元，每批合计不超过{self.per_batch:,.2f}元（{self.source}）"


# (per member, per batch) in yuan, and why.
KIND_DEFAULTS: dict[str, tuple[Decimal, Decimal]] = {
    # No seed amount. A winter-warmth gift is a few hundred yuan (the demo pays 500); 2,000 leaves
    # room for 深度困难 households and stays far below the seeds' smallest relief (5,000).
    K.WARMTH: (Decimal("2000.00"), Decimal("1000000.00")),
    # No seed amount. A school year's aid for a hardship worker's child.
    K.SCHOOL_AID: (Decimal("5000.00"), Decimal("1000000.00")),
    # The seeds' fixed relief for a member's accidental death is 5,000 (000 附件2 Q7): daily
    # relief pays no more than that.
    K.DAILY_RELIEF: (Decimal("5000.00"), Decimal("500000.00")),
    # No seed amount; same ceiling as daily relief.
    K.MODEL_WORKER: (Decimal("5000.00"), Decimal("500000.00")),
    # No seed amount for a skills-contest prize (001 §三(一)5 names it).
    K.PRIZE: (Decimal("10000.00"), Decimal("500000.00")),
    # The largest single payment any seed programme makes: accident/fire cover for a member who
    # paid dues on time, 30,000 (000 附件2 Q8).
    K.CLAIMS: (Decimal("30000.00"), Decimal("3000000.00")),
}
KIND_SOURCE = "发放类别默认上限"


def limits_for(disbursement: Disbursement) -> Limits:
    per_member, per_batch = KIND_DEFAULTS[disbursement.kind]
    sources = []
    programme: BenefitProgramme | None = disbursement.programme
    if programme is not None:
        if programme.max_per_member is not None:
            per_member = programme.max_per_member
            sources.append(f"“{programme.name}”设定的每人上限")
        else:
            tiers = [t.amount for t in programme.tiers.all()]
            per_member = max(tiers, default=Decimal("0.00"))
            sources.append(f"“{programme.name}”最高档次金额")
        if programme.max_per_batch is not None:
            per_batch = programme.max_per_batch
            sources.append(f"“{programme.name}”设定的每批上限")
    if len(sources) < 2:
        sources.append(f"“{disbursement.get_kind_display()}”{KIND_SOURCE}")
    return Limits(per_member=per_member, per_batch=per_batch, source="；".join(sources))
