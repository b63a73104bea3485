"""The audit log: one call, inside the transaction of the change it records."""

from django.db import models

from .models import AuditEntry

# Chinese labels of audit verbs, for pages; apps add theirs with register_verbs().
VERB_LABELS: dict[str, str] = {
    "member.created": "登记会员",
    "member.id_revealed": "查看完整身份证号",
    "member.transferred": "转会",
    "member.status_changed": "会籍状态变更",
}


def register_verbs(labels: dict[str, str]) -> None:
    VERB_LABELS.update(labels)


def verb_label(verb: str) -> str:
    return VERB_LABELS.get(verb, verb)


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
    return request.META.get("REMOTE_ADDR") if request is not None else None
