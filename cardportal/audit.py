"""The audit log: one call, inside the transaction of the change it records."""

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Q

from .models import AuditEntry

# Chinese labels of audit verbs, for pages; apps add theirs with register_verbs().
VERB_LABELS: dict[str, str] = {
    "member.created": "登记会员",
    "member.id_revealed": "查看完整身份证号",
    "member.transferred": "转会",
    "member.status_changed": "会籍状态变更",
    "sheet.uploaded": "上传登记表",
    "sheet.import_retried": "重新校验登记表",
    "sheet.error_report": "下载错误报告",
    "sheet.submitted": "提交登记表",
    "sheet.returned": "退回登记表",
    "sheet.approved": "审核通过登记表",
    "sheet.register_retried": "重新登记会员",
    "sheet.registered": "登记入库",
    "submission_group.created": "设置报送分组",
    "batch.created": "创建银行批次",
    "batch.handoff_written": "生成银行报送文件",
    "batch.handoff_retried": "重新生成银行报送文件",
    "batch.handoff_downloaded": "下载银行报送文件（含完整身份证号）",
    "import.return_uploaded": "上传银行回盘文件",
    "import.activation_uploaded": "上传激活文件",
    "import.return_applied": "回盘对账入库",
    "import.activation_applied": "激活文件入库",
    "import.return_retried": "重新导入回盘文件",
    "import.activation_retried": "重新导入激活文件",
    "cards.received": "工会领卡签收",
    "cards.receipt_mismatch": "领卡数量不符",
    "cards.distributed": "发放会员卡",
    "cards.activation_session": "集中激活",
    "card.lost": "挂失补卡",
    "card.cancelled": "注销会员卡",
    "card.requeued": "退回卡片重新报送",
    "wave.created": "创建发卡批次计划",
    "merchant.created": "新增特约商户",
    "merchant.reviewed": "会员评议商户",
    "merchant.evaluated": "日常考评商户",
    "merchant.exited": "商户退出",
    "merchant.suspended": "商户暂停",
    "merchant.active": "商户恢复合作",
    "merchant.signage_issued": "发放特约商户标牌",
    "claim.created": "登记普惠申请",
    "claim.approved": "批准普惠申请",
    "claim.rejected": "驳回普惠申请",
    "disbursement.created": "创建帮扶资金批次",
    "disbursement.lines_added": "添加发放名单",
    "disbursement.line_removed": "移出发放名单",
    "disbursement.export_requested": "申请生成发放文件",
    "disbursement.exported": "生成银行发放文件",
    "disbursement.downloaded": "下载银行发放文件",
    "disbursement.confirmed": "导入银行到账确认",
    "quotas.loaded": "导入发卡任务",
    "league.exported": "导出进度排名",
    "bulletin.published": "发布月通报",
    "bulletin.downloaded": "下载月通报",
    "assessment.input_saved": "录入考核评分",
    "assessment.signed_off": "审定年度考核",
    "hardship.cards_exported": "导出困难职工卡号",
    "weekly_report.saved": "填报推进周报",
    "submission.delivery_received": "签收报送材料",
    "submission.delivery_withdrawn": "撤销报送材料签收",
    "audit.exported": "导出审计日志",
}


def register_verbs(labels: dict[str, str]) -> None:
    VERB_LABELS.update(labels)


def verb_label(verb: str) -> str:
    return VERB_LABELS.get(verb, verb)


# --- verb families: what the audit viewer filters by --------------------------------------------
@dataclass(frozen=True)
class VerbFamily:
    key: str
    label: str
    prefixes: tuple[str, ...]


# A verb belongs to the family with the LONGEST matching prefix, so a specific prefix
# ("auth.login_failed") wins over a general one ("auth."); a verb no prefix matches is 其他.
# New verbs slot in by name: "admin.user_changed" is 后台变更 without touching this table; a
# prefix that is missing here is one line (or register_verb_family() from an app's ready()).
VERB_FAMILIES: list[VerbFamily] = [
    VerbFamily("reveal", "查看完整身份证号", ("member.id_reveal", "reveal.")),
    VerbFamily("pii_search", "按身份证号或手机号查询", ("member.searched",)),
    VerbFamily(
        "download",
        "下载报送/发放文件",
        ("batch.handoff_downloaded", "disbursement.downloaded", "hardship.cards_exported", "download."),
    ),
    VerbFamily(
        "signin_failed",
        "登录失败",
        (
            "auth.login_failed",
            "auth.failed",
            "auth.signin_failed",
            "login.failed",
            "signin.failed",
            "axes.failure",
            "token.failed",
            "otp.failed",
            "auth.otp_failed",
            "auth.totp_failed",
            "second_factor.failed",
        ),
    ),
    VerbFamily(
        "lockout",
        "账号锁定",
        ("auth.locked", "auth.lockout", "login.locked", "signin.locked", "axes.lockout", "token.locked"),
    ),
    VerbFamily(
        "admin",
        "后台变更",
        ("admin.", "staff.", "api_token.", "auth.unlocked", "second_factor.reset", "file.removed"),
    ),
    VerbFamily(
        "approval",
        "审批",
        (
            "sheet.approved",
            "sheet.returned",
            "claim.approved",
            "claim.rejected",
            "disbursement.approv",
            "disbursement.reject",
            "disbursement.confirm",
            "disbursement.submitted",
            "assessment.signed_off",
            "approval.",
        ),
    ),
    VerbFamily(
        "account",
        "登录与二次验证",
        ("auth.", "login.", "signin.", "otp.", "token.", "user.", "second_factor.", "member.sign"),
    ),
    VerbFamily("audit", "审计日志查阅", ("audit.",)),
]
OTHER_FAMILY = VerbFamily("other", "其他", ())


def register_verb_family(family: VerbFamily) -> None:
    """Add a family, or more prefixes to one with the same key (for apps that add verbs)."""
    for i, known in enumerate(VERB_FAMILIES):
        if known.key == family.key:
            VERB_FAMILIES[i] = VerbFamily(known.key, known.label, known.prefixes + family.prefixes)
            return
    VERB_FAMILIES.append(family)


def _prefix_owners() -> list[tuple[str, VerbFamily]]:
    return sorted(((p, f) for f in VERB_FAMILIES for p in f.prefixes), key=lambda pf: -len(pf[0]))


def verb_family(verb: str) -> VerbFamily:
    for prefix, family in _prefix_owners():
        if verb.startswith(prefix):
            return family
    return OTHER_FAMILY


def verb_family_choices() -> list[tuple[str, str]]:
    return [(f.key, f.label) for f in VERB_FAMILIES] + [(OTHER_FAMILY.key, OTHER_FAMILY.label)]


def verb_family_q(key: str) -> Q:
    """The SQL form of verb_family(verb).key == key, longest prefix first.

    A family's verbs start with one of its prefixes and with no longer prefix of another family
    (sheet.approved is 审批 even if some family claimed "sheet."); 其他 is no prefix at all."""
    owners = _prefix_owners()
    if key == OTHER_FAMILY.key:
        q = Q()
        for prefix, _family in owners:
            q &= ~Q(verb__startswith=prefix)
        return q
    family = next((f for f in VERB_FAMILIES if f.key == key), None)
    if family is None:
        return Q(pk__in=[])
    q = Q(pk__in=[])
    for prefix in family.prefixes:
        q |= Q(verb__startswith=prefix)
    for prefix, owner in owners:
        if owner.key != key and any(prefix.startswith(p) and prefix != p for p in family.prefixes):
            q &= ~Q(verb__startswith=prefix)
    return q


# --- personal data in audit details -------------------------------------------------------------
# An 18-digit ID number or an 11-digit mainland mobile number anywhere in free text (a note, a
# reason, a file name): shown and exported masked, whatever the verb that wrote it.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE_LIKE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_pii_text(text: str) -> str:
    text = _ID_LIKE.sub(lambda m: f"{m[1]}********{m[2]}", text)
    return _PHONE_LIKE.sub(lambda m: f"{m[1]}****{m[2]}", text)


def looks_like_pii(text: str) -> bool:
    return bool(_ID_LIKE.search(text) or _PHONE_LIKE.search(text))


def audit_record(
    *,
    actor,
    verb: str,
    target: models.Model,
    union=None,
    data: dict | None = None,
    ip: str | None = None,
    label: str | None = None,
) -> AuditEntry:
    if union is None:
        union = getattr(target, "union", None)
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=(label if label is not None else str(target))[:200],
        union=union,
        data=data or {},
        ip=ip,
    )


def audit_for(target: models.Model):
    return AuditEntry.objects.filter(
        target_type=target._meta.label_lower, target_id=str(target.pk)
    ).select_related("actor")


def client_ip(request) -> str | None:
    """The client's address. Behind settings.PROXY_COUNT trusted proxies that append to
    X-Forwarded-For (nginx on the host: 1) it is the Nth entry from the right: entries to its
    left are whatever the client sent, so with PROXY_COUNT=0 the header is ignored and it is
    REMOTE_ADDR. Audit rows, sign-in lockouts (axes), the member sign-in throttle and the API
    throttles all take the address from here, so they agree on who the client is."""
    return None if request is None else client_ip_of(request.META)


def client_ip_of(environ) -> str | None:
    """client_ip from a WSGI environ (request.META), for the lean press answered before Django."""
    count = getattr(settings, "PROXY_COUNT", 0)
    if count:
        header = environ.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return environ.get("REMOTE_ADDR") or None
