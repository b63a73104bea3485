"""The audit log: one call, inside the transaction of the change it records."""

from django.db import models

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
