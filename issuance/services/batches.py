"""Bank batches: which applied cards a batch may take, and building a batch (applied → in_batch),
which queues its hand-off file (`handoff.py`)."""

import os

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import job_queue
from members.models import Union

from ..lifecycle import cards_transition
from ..models import BankBatch, Card, IssuingPartner, Wave
from .common import BATCH_ROLES, S, _require


def applied_cards(*, union: Union, wave: Wave | None = None, hardship_only: bool = False):
    """Applied cards a batch may take: in `union`'s subtree (and the wave's areas), hardship
    workers first (004 §一), then replacements, then oldest application."""
    qs = Card.objects.filter(status=S.APPLIED, union__path__startswith=union.path)
    if wave is not None:
        area = Q()
        for path in wave.unions.values_list("path", flat=True):
            area |= Q(union__path__startswith=path)
        qs = qs.filter(area) if area else qs.none()
    if hardship_only:
        qs = qs.filter(is_hardship=True)
    return qs.order_by("-is_hardship", F("replaces_id").asc(nulls_last=True), "id")


@transaction.atomic
def batch_create(
    *,
    partner: IssuingPartner,
    union: Union,
    actor,
    wave: Wave | None = None,
    limit: int | None = None,
    hardship_only: bool = False,
    note: str = "",
) -> BankBatch:
    """Take applied cards into a new batch (applied → in_batch) and enqueue the hand-off file.

    Two people building batches at once cannot both take a card: cards_transition locks the cards
    and, non-strict, skips any another batch took first."""
    _require(actor, BATCH_ROLES, "创建银行批次")
    if limit is not None and limit <= 0:
        raise ApplicationError("张数须大于0", code="bad_limit")
    ids = list(
        applied_cards(union=union, wave=wave, hardship_only=hardship_only).values_list("id", flat=True)[
            :limit
        ]
    )
    if not ids:
        raise ApplicationError("范围内没有待报送银行的卡片", code="nothing_to_batch")
    today = timezone.localdate()
    batch = BankBatch.objects.create(
        code=f"TMP-{os.urandom(6).hex()}",  # unique placeholder until the pk gives the real code
        partner=partner,
        union=union,
        wave=wave,
        note=note,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    batch.code = f"B{today:%Y%m%d}-{batch.pk:05d}"
    moved = cards_transition(
        cards=ids,
        to_status=S.IN_BATCH,
        actor=actor,
        note=f"报送银行批次 {batch.code}",
        updates={i: {"batch_id": batch.pk, "partner_id": partner.pk} for i in ids},
        strict=False,
    )
    if not moved:
        raise ApplicationError("卡片已被其他批次占用，请重试", code="nothing_to_batch")
    batch.card_count = len(moved)
    batch.hardship_count = sum(1 for c in moved if c.is_hardship)
    batch.progress_total = batch.card_count
    batch.save(update_fields=["code", "card_count", "hardship_count", "progress_total"])
    audit_record(
        actor=actor,
        verb="batch.created",
        target=batch,
        data={"cards": batch.card_count, "hardship": batch.hardship_count, "wave": wave.pk if wave else None},
    )
    from ..tasks import batch_handoff_task

    job_queue(batch, phase="handoff", task=batch_handoff_task)
    return batch
