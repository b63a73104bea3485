"""What the law (PIPL) gives a member over their own registry data, on the registry's side:
a record of consent to card issuance, and requests to correct data that the clerks of the
member's union handle. Services write (audited, in one transaction); selectors read, scoped.

The member's own pages (benefits/membersite) call these with the signed-in `Member`; the clerk's
pages (members/correction_views.py) with the staff user."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cardportal import crypto
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError

from .access import get_for_user_or_404, scope_queryset, staff_of
from .idcard import mask_id_like
from .models import CorrectionRequest, Member, MemberConsent

# What the member reads before answering (kept on each row: the record says what was agreed to).
CONSENT_STATEMENT = (
    "本人同意由所在工会将姓名、性别、身份证号、手机号、工作单位报送合作银行，"
    "统一办理工会会员卡，并用于会员服务。办卡自愿，可随时撤回。"
)
MAX_OPEN_CORRECTIONS = 5
DETAILS_MAX = 300


@transaction.atomic
def consent_record(*, member: Member, agreed: bool, via: str, actor=None) -> MemberConsent:
    """Record the member's answer (agree or decline card issuance); the latest row is current."""
    consent = MemberConsent.objects.create(
        member=member,
        agreed=agreed,
        statement=CONSENT_STATEMENT,
        via=via,
        at=timezone.now(),
    )
    audit_record(
        actor=actor,
        verb="member.consent_recorded",
        target=member,
        data={"agreed": agreed, "via": via, "consent": consent.pk},
    )
    return consent


def consent_current(*, member: Member) -> MemberConsent | None:
    return member.consents.filter(topic=MemberConsent.Topic.CARD_ISSUANCE).order_by("-at", "-id").first()


@transaction.atomic
def correction_request_create(*, member: Member, field: str, details: str) -> CorrectionRequest:
    """The member asks the clerks of their union to correct a piece of registry data."""
    if field not in CorrectionRequest.Field.values:
        raise ApplicationError("请选择要更正的项目", code="correction_field")
    details = (details or "").replace("\x00", "").strip()
    if not details:
        raise ApplicationError("请写明哪里有误、正确的内容是什么", code="correction_empty")
    if len(details) > DETAILS_MAX:
        raise ApplicationError(
            f"更正内容最多{DETAILS_MAX}字，现在是{len(details)}字", code="correction_too_long"
        )
    # Locks the member's row: two parallel submissions cannot both pass the count below.
    Member.objects.select_for_update().filter(pk=member.pk).first()
    if (
        member.correction_requests.filter(status=CorrectionRequest.Status.OPEN).count()
        >= MAX_OPEN_CORRECTIONS
    ):
        raise ApplicationError(
            f"您已有{MAX_OPEN_CORRECTIONS}条更正申请待工会处理，请等处理后再提交", code="correction_too_many"
        )
    request = CorrectionRequest.objects.create(
        member=member,
        union_id=member.union_id,
        field=field,
        details_encrypted=crypto.encrypt(details),
    )
    audit_record(
        actor=None,
        verb="member.correction_requested",
        target=member,
        data={"by_member": member.pk, "request": request.pk, "field": field},
    )
    return request


def correction_list_for_member(*, member: Member) -> QuerySet[CorrectionRequest]:
    return member.correction_requests.order_by("-created_at", "-id")


def correction_list_for_user(*, user, status: str | None = None) -> QuerySet[CorrectionRequest]:
    """Requests of members of unions in the user's subtree (the clerk: their own union)."""
    qs = scope_queryset(CorrectionRequest.objects.select_related("member", "union", "handled_by"), user)
    if status in CorrectionRequest.Status.values:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def correction_get_for_user(*, user, pk) -> CorrectionRequest:
    return get_for_user_or_404(
        CorrectionRequest.objects.select_related("member", "union", "handled_by"), user, pk=pk
    )


def correction_preview(request: CorrectionRequest) -> str:
    """The member's text with any ID-number-like run masked (for lists)."""
    return mask_id_like(request.reveal_details())


def correction_read(*, request: CorrectionRequest, actor, ip: str | None = None) -> str:
    """The member's full text, for the detail page; audited (it may hold an ID number)."""
    audit_record(
        actor=actor, verb="member.correction_read", target=request.member, ip=ip, data={"request": request.pk}
    )
    return request.reveal_details()


@transaction.atomic
def correction_mark_handled(*, request: CorrectionRequest, actor, reply: str) -> CorrectionRequest:
    """A staff user of the member's union subtree marks the request handled, saying what was done
    (the member reads the reply on 我的信息). The registry change itself is the clerk's ordinary
    edit; this records that the request was answered."""
    if staff_of(actor) is None and not actor.is_superuser:
        raise ApplicationError("只有工会工作人员可以处理更正申请", code="not_staff")
    request = CorrectionRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != CorrectionRequest.Status.OPEN:
        raise ApplicationError("这条申请已处理过", code="correction_handled")
    reply = (reply or "").replace("\x00", "").strip()
    if not reply:
        raise ApplicationError("请填写处理说明（会员会看到），如“已按身份证更正姓名”", code="reply_missing")
    if len(reply) > 300:
        raise ApplicationError(f"处理说明最多300字，现在是{len(reply)}字", code="reply_too_long")
    request.status = CorrectionRequest.Status.HANDLED
    request.handled_by = actor
    request.handled_at = timezone.now()
    request.reply = reply
    request.save(update_fields=["status", "handled_by", "handled_at", "reply"])
    audit_record(
        actor=actor,
        verb="member.correction_handled",
        target=request.member,
        data={"request": request.pk},
    )
    return request
