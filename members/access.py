"""The access door: what a staff user sees (their union's subtree) and what they may do there.

Two questions, answered here and nowhere else:

* **Where?** A staff user sees their union's subtree (`Union.path` prefix); a superuser without a
  staff role sees everything; anyone else nothing. `scope_queryset` / `get_for_user_or_404`
  apply it to any queryset: outside the subtree a record is a 404, as if it did not exist.
* **What?** `CAPABILITIES` maps each role (and the superuser) to the set of things it may do.
  `access_for(user).can(Cap.X)` is the one question every view, API permission, admin hook, panel
  and service asks; services enforce with `.require(Cap.X)` (an `ApplicationError`), pages with
  `.permit(Cap.X)` (a 403). "May act on this union" adds `.sees(union)` (inside the subtree) or
  `.governs(union)` (strictly below one's own union: a union never reviews, plans for or sets
  the rank of itself).

`access_for` computes this once per user object (one request: `request.user` is loaded once) and
keeps it on the user; asking again costs no query. The staff row is Django's cached reverse
one-to-one (`user.staff`), so the door adds no query a page did not already make.

Members signing in on the members' site are not staff users: their sessions never set
`request.user` (benefits/membersite/auth.py), so nothing here concerns them.

cardportal, the bottom layer, may not import this module; it asks through the port
`cardportal.scoping`, which `MembersConfig.ready()` connects to this module.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, wraps

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework.permissions import BasePermission, IsAuthenticated

from cardportal.errors import ApplicationError

from .models import StaffRole, Union

R = StaffRole.Role
SUPERUSER = "superuser"  # the table's column for a superuser (who may hold no staff role at all)


class Cap(StrEnum):
    """Things a staff user may do. The label says it in Chinese, as in "您的角色无权{label}"."""

    SHEET_UPLOAD = "sheet.upload", "上传和提交登记表"
    SHEET_REVIEW = "sheet.review", "审核登记表"
    MEMBER_REVEAL_ID = "member.reveal_id", "查看完整身份证号"
    MEMBER_TRANSFER = "member.transfer", "办理会员转会"
    SUBMISSION_GROUPS = "submission_groups.manage", "设置报送分组"
    REGISTRY_MIGRATE = "registry.migrate", "一次导入整个会员库（系统迁移）"
    DROPS_MANAGE = "drops.manage", "组织限量抢票"
    SUBSIDY_MANAGE = "subsidy.manage", "设立消费补贴活动"
    CLAIM_REVIEW = "claim.review", "审核普惠申请"
    DISBURSEMENT_PREPARE = "disbursement.prepare", "编制帮扶资金发放批次"
    DISBURSEMENT_APPROVE = "disbursement.approve", "审批帮扶资金发放批次"
    DISBURSEMENT_CONFIRM = "disbursement.confirm", "确认代发结果"
    DISBURSEMENT_DOWNLOAD = "disbursement.download", "下载银行代发文件"
    BATCH_MANAGE = "batch.manage", "创建银行批次"
    BANK_FILES = "bank_files.handle", "处理银行报送和回盘文件"
    USAGE_IMPORT = "usage.import", "导入刷卡交易明细"
    CARD_RECEIVE = "card.receive", "签收和发放卡片"
    CARD_ACTIVATE = "card.activate", "登记集中激活"
    CARD_CORRECT = "card.correct", "办理挂失、注销和重新报送"
    WAVE_PLAN = "wave.plan", "制定发卡计划"
    LEAGUE_READ = "league.read", "查看进度排名"
    LEAGUE_MANAGE = "league.manage", "编制通报和考核评分"
    SMS_OUTBOX = "sms.outbox", "查看短信记录"
    AUDIT_READ = "audit.read", "查阅审计日志"
    ADMIN_SITE = "admin.site", "使用管理后台"
    API_TOKEN = "api.token", "申请 API 令牌"
    UNION_DESK = "union.desk", "办理本基层工会的日常工作"
    USAGE_ANALYTICS = "usage.analytics", "查看用卡分析和导出分群名单"
    SEGMENT_NOTICE = "usage.segment_notice", "向会员分群发送短信通知"
    SECOND_FACTOR = "account.second_factor", "登录须二次验证"

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


C = Cap
_REVIEWERS = (R.COUNTY_REVIEWER, R.CITY_STAFF, R.PROVINCE_STAFF, R.ADMIN)
_FEDERATION = (R.CITY_STAFF, R.PROVINCE_STAFF, R.ADMIN)
_EVERY_ROLE = (*R.values, SUPERUSER)

# Who holds each capability: the one table (docs/architecture.md prints it; a test compares).
HOLDERS: dict[Cap, tuple[str, ...]] = {
    C.SHEET_UPLOAD: (R.CLERK, *_REVIEWERS, SUPERUSER),
    C.SHEET_REVIEW: (*_REVIEWERS, SUPERUSER),
    C.MEMBER_REVEAL_ID: (*_REVIEWERS, SUPERUSER),
    C.MEMBER_TRANSFER: (*_REVIEWERS, SUPERUSER),
    C.SUBMISSION_GROUPS: (*_FEDERATION, SUPERUSER),
    # A city's whole existing registry (1-2 M rows) through the sheet pipeline: the federation,
    # never a grassroots clerk (whose 200,000-row file is a mistake to catch at the door).
    C.REGISTRY_MIGRATE: (*_FEDERATION, SUPERUSER),
    C.DROPS_MANAGE: (*_FEDERATION, SUPERUSER),  # a drop is for a whole city's members
    C.SUBSIDY_MANAGE: (*_FEDERATION, SUPERUSER),  # a campaign spends the federation's budget
    C.CLAIM_REVIEW: (*_REVIEWERS, SUPERUSER),
    C.DISBURSEMENT_PREPARE: (R.CLERK, *_REVIEWERS, SUPERUSER),
    C.DISBURSEMENT_APPROVE: (*_REVIEWERS, SUPERUSER),
    C.DISBURSEMENT_CONFIRM: (*_REVIEWERS, R.BANK_OPERATOR, SUPERUSER),
    C.DISBURSEMENT_DOWNLOAD: (*_REVIEWERS, R.BANK_OPERATOR, SUPERUSER),
    C.BATCH_MANAGE: (R.CITY_STAFF, R.PROVINCE_STAFF, R.BANK_OPERATOR, R.ADMIN, SUPERUSER),
    C.BANK_FILES: (R.CITY_STAFF, R.BANK_OPERATOR, R.ADMIN, SUPERUSER),
    C.USAGE_IMPORT: (R.CITY_STAFF, R.BANK_OPERATOR, R.ADMIN, SUPERUSER),  # the bank's transaction feed
    C.CARD_RECEIVE: (R.CLERK, R.ADMIN, SUPERUSER),
    C.CARD_ACTIVATE: (R.CLERK, R.CITY_STAFF, R.BANK_OPERATOR, R.ADMIN, SUPERUSER),
    C.CARD_CORRECT: (R.CLERK, *_FEDERATION, R.BANK_OPERATOR, SUPERUSER),
    C.WAVE_PLAN: (*_FEDERATION, SUPERUSER),
    C.LEAGUE_READ: (R.COUNTY_REVIEWER, *_FEDERATION, SUPERUSER),
    C.LEAGUE_MANAGE: (*_FEDERATION, SUPERUSER),
    C.SMS_OUTBOX: (*_FEDERATION, SUPERUSER),
    # Federation staff audit the people below them; the admin role manages accounts and is
    # itself audited, so it does not read the log.
    C.AUDIT_READ: (R.CITY_STAFF, R.PROVINCE_STAFF, SUPERUSER),
    C.ADMIN_SITE: (R.ADMIN, SUPERUSER),
    # Partner integrations (the bank) hold API tokens; staff browse.
    C.API_TOKEN: (R.BANK_OPERATOR,),
    # The grassroots clerk's own desk (their union's sheets and cards on the dashboard).
    C.UNION_DESK: (R.CLERK,),
    # Card usage analytics (issue 18): county and city staff, each over their own subtree.
    C.USAGE_ANALYTICS: (R.COUNTY_REVIEWER, *_FEDERATION, SUPERUSER),
    C.SEGMENT_NOTICE: (R.COUNTY_REVIEWER, *_FEDERATION, SUPERUSER),
}
# Whoever may see full ID numbers, bank files or payment files, or use the admin, signs in with a
# second factor; the grassroots clerk (masked numbers of their own union) does not.
_POWERFUL = (C.MEMBER_REVEAL_ID, C.BANK_FILES, C.DISBURSEMENT_DOWNLOAD, C.ADMIN_SITE)
HOLDERS[C.SECOND_FACTOR] = tuple(
    role for role in _EVERY_ROLE if any(role in HOLDERS[cap] for cap in _POWERFUL)
)

CAPABILITIES: dict[str, frozenset[Cap]] = {
    role: frozenset(cap for cap, holders in HOLDERS.items() if role in holders) for role in _EVERY_ROLE
}


def roles_with(cap: Cap) -> frozenset[str]:
    """The staff roles holding `cap` (without the superuser column)."""
    return frozenset(role for role in HOLDERS[Cap(cap)] if role != SUPERUSER)


def capability_table_markdown() -> str:
    """The table as docs/architecture.md prints it (tests/test_access.py compares the two)."""
    columns = [*R.values, SUPERUSER]
    header = "| capability | " + " | ".join(columns) + " |"
    lines = [header, "|---|" + "---|" * len(columns)]
    for cap in Cap:
        marks = " | ".join("✓" if column in HOLDERS[cap] else "" for column in columns)
        lines.append(f"| `{cap.value}` {cap.label} | {marks} |")
    return "\n".join(lines)


# --- who the user is ----------------------------------------------------------------------------
def staff_of(user) -> StaffRole | None:
    """The user's StaffRole, or None (superusers without one, anonymous users). Django caches the
    reverse one-to-one on the user, a missing one included: one query per user object at most."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.staff
    except ObjectDoesNotExist:
        return None


@dataclass(frozen=True)
class Access:
    """What one user may see and do; get it from `access_for(user)`."""

    user: object
    staff: StaffRole | None
    active: bool
    superuser: bool
    caps: frozenset[Cap] = field(default_factory=frozenset)

    @property
    def role(self) -> str | None:
        """The staff role, "superuser" for a superuser without one, None for anyone else."""
        if self.staff is not None:
            return self.staff.role
        return SUPERUSER if self.superuser else None

    @property
    def is_staff_user(self) -> bool:
        """A staff role or a superuser: someone the staff pages are for."""
        return self.active and (self.staff is not None or self.superuser)

    @property
    def union(self) -> Union | None:
        return self.staff.union if self.staff is not None else None

    @cached_property
    def path(self) -> str | None:
        """The union path prefix the user may see; "" means everything; None means nothing.
        A staff role wins over the superuser flag: a superuser with a role sees that subtree."""
        if not self.active:
            return None
        if self.staff is not None:
            return self.staff.union.path
        return "" if self.superuser else None

    @property
    def is_whole_tree_admin(self) -> bool:
        """A superuser, or a portal admin at a root of the union tree: only they change settings
        not tied to a union (bank partners, merchant categories, evaluation thresholds)."""
        if self.superuser:
            return self.active
        return self.can(Cap.ADMIN_SITE) and self.staff.union.parent_id is None

    def can(self, cap: Cap) -> bool:
        return Cap(cap) in self.caps

    def require(self, cap: Cap, what: str | None = None) -> None:
        """For services: refuse with the Chinese reason. `user=None` (the system itself: the demo
        loader, the bank API jobs, commands) is `SYSTEM`, which may do everything."""
        if not self.can(cap):
            raise ApplicationError(f"您的角色无权{what or Cap(cap).label}", code="forbidden")

    def permit(self, cap: Cap, message: str = "") -> None:
        """For pages and API views: a 403 unless the user holds `cap`."""
        if not self.can(cap):
            raise PermissionDenied(message) if message else PermissionDenied

    def sees(self, union: Union) -> bool:
        """`union` lies in the user's subtree."""
        return self.path is not None and union.path.startswith(self.path)

    def governs(self, union: Union) -> bool:
        """`union` lies strictly below the user's own union: what a level above does to a level
        below (reviews its sheets, sets its targets, resets its accounts). A union never does it
        to itself. A superuser governs every union."""
        if self.superuser:
            return True
        own = self.path
        return bool(own) and union.path.startswith(own) and union.path != own


@dataclass(frozen=True)
class _System(Access):
    """The system acting on its own (actor=None): commands, the demo loader, bank API jobs."""

    @cached_property
    def path(self) -> str | None:
        return ""

    def governs(self, union: Union) -> bool:
        return True


SYSTEM = _System(user=None, staff=None, active=True, superuser=True, caps=frozenset(Cap))
_NOBODY = frozenset()
_CACHE_ATTR = "_cardportal_access"


def access_for(user) -> Access:
    """The user's Access, computed once per user object and kept on it. The cache is checked
    against the role, union and flags it was made from, so a role changed on the same object
    (tests, the admin saving a role) is never answered from a stale entry."""
    if user is None:
        return SYSTEM
    staff = staff_of(user)
    active = bool(getattr(user, "is_authenticated", False) and user.is_active)
    superuser = bool(getattr(user, "is_superuser", False))
    key = (active, superuser, id(staff), staff.role if staff else None, staff.union_id if staff else None)
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    if not active:
        caps = _NOBODY
    elif superuser:
        caps = CAPABILITIES[SUPERUSER] | (CAPABILITIES[staff.role] if staff is not None else _NOBODY)
    else:
        caps = CAPABILITIES[staff.role] if staff is not None else _NOBODY
    access = Access(user=user, staff=staff, active=active, superuser=superuser, caps=caps)
    setattr(user, _CACHE_ATTR, (key, access))
    return access


def can(user, cap: Cap) -> bool:
    return access_for(user).can(cap)


def requires(cap: Cap, message: str = ""):
    """View decorator (under @login_required): a 403 unless the user holds `cap`."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            access_for(request.user).permit(cap, message)
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def api_permissions(cap: Cap, message: str) -> list[type[BasePermission]]:
    """`permission_classes` of a DRF view for holders of `cap`: signed in, then the capability
    (403 with `message`)."""

    class HoldsCapability(BasePermission):
        def has_permission(self, request, view) -> bool:
            return access_for(request.user).can(cap)

    HoldsCapability.message = message
    HoldsCapability.__name__ = f"Holds_{Cap(cap).name}"
    return [IsAuthenticated, HoldsCapability]


# --- where: the union subtree -------------------------------------------------------------------
def scope_path(user) -> str | None:
    """The union path prefix the user may see; "" means everything; None means nothing."""
    return access_for(user).path


def visible_unions(user) -> QuerySet[Union]:
    path = scope_path(user)
    if path is None:
        return Union.objects.none()
    if path == "":
        return Union.objects.all()
    return Union.objects.filter(path__startswith=path)


def scope_queryset(qs: QuerySet, user, *, union_field: str = "union") -> QuerySet:
    """Restrict `qs` to rows whose `union_field` lies in the user's subtree.

    `union_field` is the lookup from the model to its Union ("union", "member__union", ...);
    "" when the queryset is of unions itself."""
    path = scope_path(user)
    if path is None:
        return qs.none()
    if path == "":
        return qs
    lookup = f"{union_field}__path__startswith" if union_field else "path__startswith"
    return qs.filter(**{lookup: path})


def get_for_user_or_404(qs: QuerySet, user, *, union_field: str = "union", **lookup) -> Model:
    """One record of `qs` inside the user's subtree, or 404 (missing and outside look the same)."""
    try:
        return scope_queryset(qs, user, union_field=union_field).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
