"""Four eyes on a disbursement batch (docs/security.md "Four eyes"): who may prepare, approve,
export, confirm and download. Each *_refusal returns "" when `actor` may act, else the Chinese
reason; the services raise it and the pages ask the same functions which buttons to offer, so
there is one rule per step."""

from cardportal.scoping import scope_path, staff_of
from members.models import StaffRole

from ..models import Disbursement
from .common import _visible

PREPARE_ROLES = frozenset({StaffRole.Role.CLERK, *StaffRole.REVIEW_ROLES})
CONFIRM_ROLES = frozenset({*StaffRole.REVIEW_ROLES, StaffRole.Role.BANK_OPERATOR})
S = Disbursement.State


def _has_role(actor, roles) -> bool:
    """A staff role in `roles`; a superuser without a staff role stands at the root."""
    staff = staff_of(actor)
    return actor.is_superuser if staff is None else staff.role in roles


def _preparer_path(disbursement: Disbursement) -> str:
    """The union path of the batch's preparer (its creator): "" for a superuser without a union
    (nobody is above them); the batch's own union when the account is gone."""
    preparer = disbursement.created_by
    if preparer is None:
        return disbursement.union.path
    staff = staff_of(preparer)
    if staff is not None:
        return staff.union.path
    return "" if preparer.is_superuser else disbursement.union.path


def may_prepare(actor) -> bool:
    """Whether `actor` may create batches at all (the list page offers the form)."""
    return _has_role(actor, PREPARE_ROLES) and scope_path(actor) is not None


def _is_preparer(disbursement: Disbursement, actor) -> bool:
    return disbursement.created_by_id is not None and disbursement.created_by_id == actor.pk


def disbursement_prepare_refusal(disbursement: Disbursement, actor) -> str:
    """Building the list, removing lines and submitting: the batch's creator, while a draft."""
    if not _has_role(actor, PREPARE_ROLES) or not _visible(actor, disbursement.union):
        return "您的角色不能编制发放批次"
    if not _is_preparer(disbursement, actor):
        return "只有本批次的经办人（创建人）可以修改名单和提交审批"
    if disbursement.state != S.DRAFT:
        return f"批次{disbursement.get_state_display()}，名单不能再修改"
    return ""


def disbursement_approve_refusal(disbursement: Disbursement, actor) -> str:
    """Approving or returning: a reviewer of a union above the preparer's, never the preparer."""
    if disbursement.state != S.SUBMITTED:
        return f"批次{disbursement.get_state_display()}，不是待审批状态"
    if _is_preparer(disbursement, actor):
        return "经办人不能审批自己编制的批次，须由上级工会审批"
    if not _has_role(actor, StaffRole.REVIEW_ROLES) or not _visible(actor, disbursement.union):
        return "只有上级工会的审核人员可以审批发放批次"
    approver_path, preparer_path = scope_path(actor), _preparer_path(disbursement)
    if not (preparer_path.startswith(approver_path) and preparer_path != approver_path):
        return "审批人须属于经办人所在工会的上级工会"
    return ""


def disbursement_export_refusal(disbursement: Disbursement, actor) -> str:
    """Generating the payment file of an approved batch: its preparer or approver, or another
    preparing role in scope (the list is frozen and approved; this only writes it out)."""
    if disbursement.state in (S.DRAFT, S.SUBMITTED):
        return "批次须经审批后才能生成银行代发文件"
    if disbursement.state != S.APPROVED:
        return "正在生成银行代发文件" if disbursement.state == S.EXPORTING else "银行代发文件已生成"
    if not _has_role(actor, PREPARE_ROLES) or not _visible(actor, disbursement.union):
        return "您的角色不能生成银行代发文件"
    return ""


def disbursement_confirm_refusal(disbursement: Disbursement, actor) -> str:
    """Uploading the bank's result: a bank operator or a reviewer in scope who neither prepared
    nor approved the batch (a third person)."""
    if disbursement.state not in (S.EXPORTED, S.CLOSED):
        return "批次尚未生成银行文件，不能导入回盘"
    if _is_preparer(disbursement, actor):
        return "经办人不能确认自己编制的批次的发放结果，须由第三人导入银行回盘"
    if disbursement.approved_by_id is not None and disbursement.approved_by_id == actor.pk:
        return "审批人不能确认自己审批的批次的发放结果，须由第三人导入银行回盘"
    if not _has_role(actor, CONFIRM_ROLES) or not _visible(actor, disbursement.union):
        return "只有银行经办员或上级工会审核人员可以导入银行回盘"
    return ""


DOWNLOAD_ROLES = frozenset({*StaffRole.REVIEW_ROLES, StaffRole.Role.BANK_OPERATOR})


def disbursement_download_refusal(actor) -> str:
    """Why `actor` may not download bank files ("" when they may)."""
    staff = staff_of(actor)
    if actor.is_superuser or (staff is not None and staff.role in DOWNLOAD_ROLES):
        return ""
    return "您的角色无权下载银行代发文件"
