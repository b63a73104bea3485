from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from knox.models import AuthToken

from cardportal import crypto
from cardportal.admin import ScopedAdminMixin, ScopedFormFieldsMixin
from cardportal.api_tokens import api_token_issue, api_token_revoke, token_prefix
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.models import ApiToken

from .access import Cap, access_for, staff_of
from .idcard import normalise
from .models import Member, MemberTransfer, RegistrationSheet, StaffRole, SubmissionGroup, Union
from .staffing import (
    LEVEL_ORDER,
    PRIVILEGE_FIELDS,
    grantable_roles,
    may_manage_user,
    role_grant_error,
    visible_users,
)

User = get_user_model()


@admin.register(Union)
class UnionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A scoped admin adds unions below their own and edits their names and details; their own
    union (their rank) and the tree's shape (code, parent, level: the materialized path of every
    descendant hangs on them) are a superuser's."""

    scope_union_field = ""
    list_display = ["name", "code", "level", "parent", "unit_type", "declared_members"]
    list_filter = ["level", "unit_type"]
    search_fields = ["name", "code"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["path", "depth"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and not access_for(request.user).governs(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not access_for(request.user).governs(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return [*self.readonly_fields, "code", "parent", "level"]
        return self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and not request.user.is_superuser:
            form = type("ScopedUnionForm", (ScopedUnionForm, form), {})
        return form


class ScopedUnionForm:
    """A scoped admin's new union hangs below a union they see, one level or more down."""

    def clean(self):
        cleaned = super().clean()
        parent, level = cleaned.get("parent"), cleaned.get("level")
        if parent is None:
            self.add_error("parent", "请选择上级工会（本级或下级工会）")
        elif level and LEVEL_ORDER.get(level, 0) <= LEVEL_ORDER.get(parent.level, 0):
            self.add_error("level", f"层级须低于上级工会（{parent.get_level_display()}）")
        return cleaned


class TransferInline(admin.TabularInline):
    model = MemberTransfer
    fk_name = "member"
    extra = 0
    can_delete = False
    fields = ["created_at", "from_union", "to_union", "from_status", "to_status", "note", "actor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Member)
class MemberAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Masked here too: the admin never shows a full ID number or phone."""

    list_display = ["name", "masked_id", "masked_phone", "union", "employment_type", "is_hardship", "status"]
    list_filter = ["employment_type", "is_hardship", "is_model_worker", "status", "gender"]
    search_fields = ["name"]
    list_select_related = ["union"]
    show_full_result_count = False  # no COUNT(*) over 1.5 million rows
    fields = [
        "name",
        "masked_id",
        "gender",
        "birth_date",
        "masked_phone",
        "work_unit",
        "union",
        "employment_type",
        "is_hardship",
        "is_model_worker",
        "dues_paid",
        "status",
        "joined_on",
    ]
    readonly_fields = ["masked_id", "masked_phone", "gender", "birth_date", "union", "status"]
    inlines = [TransferInline]

    @admin.display(description="身份证号")
    def masked_id(self, obj):
        return obj.masked_id

    @admin.display(description="手机号")
    def masked_phone(self, obj):
        return obj.masked_phone

    def has_add_permission(self, request, *args):
        return False  # members come in through registration sheets

    def get_search_results(self, request, queryset, search_term):
        term = normalise(search_term)
        if len(term) == 18 and term[:17].isdigit():
            return queryset.filter(id_hash=crypto.keyed_hash(term)), False
        qs = queryset.filter(name__startswith=search_term.strip()) if search_term else queryset
        return qs, False


class RoleGrantForm:
    """Checks the role and union against the acting admin's own (`members.staffing`)."""

    actor = None  # set per request by `role_grant_form`

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("role")
        if field is not None:
            allowed = set(grantable_roles(self.actor))
            if self.instance.pk:
                allowed.add(self.instance.role)  # shown as it is; the grant rule judges a change
            field.choices = [(v, label) for v, label in field.choices if v == "" or v in allowed]

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role", getattr(self.instance, "role", None))
        union = cleaned.get(
            "union", getattr(self.instance, "union", None) if self.instance.union_id else None
        )
        if role and self.has_changed():
            error = role_grant_error(actor=self.actor, role=role, union=union)
            if error:
                raise forms.ValidationError(error)
        return cleaned


def role_grant_form(form_class, actor):
    return type(form_class.__name__, (RoleGrantForm, form_class), {"actor": actor})


def audit_role_saved(*, actor, role: StaffRole, before: tuple | None) -> None:
    after = (role.role, role.union_id)
    if before == after:
        return
    audit_record(
        actor=actor,
        verb="staff.role_changed",
        target=role,
        data={
            "user": role.user.get_username(),
            "role": role.role,
            "union": role.union.name,
            **({"previous_role": before[0], "previous_union_id": before[1]} if before else {}),
        },
    )


class StaffRoleInline(ScopedFormFieldsMixin, admin.StackedInline):
    model = StaffRole
    can_delete = False
    autocomplete_fields = ["union"]

    def has_view_permission(self, request, obj=None):
        return access_for(request.user).can(Cap.ADMIN_SITE)

    def get_min_num(self, request, obj=None, **kwargs):
        # A scoped admin's new account gets its role (and so its place in their subtree) at once.
        return 0 if request.user.is_superuser else 1

    def has_change_permission(self, request, obj=None):
        return may_manage_user(request.user, obj)

    def has_add_permission(self, request, obj=None):
        return may_manage_user(request.user, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = role_grant_form(formset.form, request.user)
        return formset


@admin.register(StaffRole)
class StaffRoleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Scoped admins change the roles of the staff they manage (`members.staffing`); they add
    staff on the user page, where the account and its role are created together."""

    list_display = ["user", "role", "union"]
    list_filter = ["role"]
    search_fields = ["user__username", "union__name"]
    list_select_related = ["user", "union"]
    autocomplete_fields = ["union"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(user__in=visible_users(request.user))

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request) and (
            obj is None or may_manage_user(request.user, obj.user)
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request) and (
            obj is None or may_manage_user(request.user, obj.user)
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["user"]

    def get_form(self, request, obj=None, **kwargs):
        return role_grant_form(super().get_form(request, obj, **kwargs), request.user)

    def save_model(self, request, obj, form, change):
        before = None
        if change:
            before = StaffRole.objects.filter(pk=obj.pk).values_list("role", "union_id").first()
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            sync_staff_flag(user=obj.user, actor=request.user)
            audit_role_saved(actor=request.user, role=obj, before=before)


def audit_user(*, actor, verb: str, user, data: dict | None = None) -> None:
    """An account's audit row carries its role's union, so the scoped audit views show it."""
    staff = staff_of(user)
    audit_record(actor=actor, verb=verb, target=user, union=staff.union if staff else None, data=data)


def sync_staff_flag(*, user, actor) -> None:
    """Under a scoped admin, Django's is_staff (entry to this admin) follows the portal role."""
    if actor.is_superuser:
        return
    role = StaffRole.objects.filter(user=user).values_list("role", flat=True).first()
    is_staff = role == StaffRole.Role.ADMIN
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(ScopedAdminMixin, BaseUserAdmin):
    """Staff accounts. A scoped admin sees and manages the accounts `members.staffing` allows
    (their own is view-and-profile only) and never sets Django's privilege fields: a POST that
    carries one is refused (403), whatever else it changes."""

    inlines = [StaffRoleInline]
    list_display = ["username", "first_name", "is_active", "is_staff", "last_login"]
    actions = ["issue_api_token"]
    scoped_fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("个人信息", {"fields": ["first_name", "last_name", "email"]}),
        ("状态", {"fields": ["is_active", "is_staff", "last_login", "date_joined"]}),
    ]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return qs if request.user.is_superuser else qs.filter(pk__in=visible_users(request.user).values("pk"))

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request):
            return False
        return obj is None or obj.pk == request.user.pk or may_manage_user(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request) and (obj is None or may_manage_user(request.user, obj))

    def get_fieldsets(self, request, obj=None):
        if obj is None or request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.scoped_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser or obj is None:
            return super().get_readonly_fields(request, obj)
        readonly = ["is_staff", "last_login", "date_joined"]
        return [*readonly, "username", "is_active"] if obj.pk == request.user.pk else readonly

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        privileged = [field for field in PRIVILEGE_FIELDS if field in request.POST]
        if request.method == "POST" and privileged and not request.user.is_superuser:
            raise PermissionDenied("只有超级管理员可以设置超级用户、后台登录和权限")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, id)
                audit_user(actor=request.user, verb="staff.password_set", user=user)
        return response

    @admin.action(description="签发新 API 令牌（仅银行经办账号；原令牌作废）")
    def issue_api_token(self, request, queryset):
        """The new tokens are on this response only (no message storage, no cache): shown once."""
        issued, refused = [], []
        for user in queryset.order_by("username"):
            if not may_manage_user(request.user, user):
                refused.append({"user": user, "reason": "无权管理该账号"})
                continue
            try:
                token, text = api_token_issue(user=user, actor=request.user, via="admin")
            except ApplicationError as exc:
                refused.append({"user": user, "reason": exc.message})
            else:
                issued.append({"user": user, "text": text, "expiry": token.expiry})
        context = {**self.admin_site.each_context(request), "issued": issued, "refused": refused}
        response = TemplateResponse(request, "admin/auth/user/api_token_issued.html", context)
        add_never_cache_headers(response)
        return response

    def save_related(self, request, form, formsets, change):
        user = form.instance
        before = StaffRole.objects.filter(user=user).values_list("role", "union_id").first()
        super().save_related(request, form, formsets, change)
        role = StaffRole.objects.filter(user=user).select_related("union", "user").first()
        # After the inline: a new account's audit row names the union of the role it got.
        if not change or form.changed_data:
            changed = [f for f in form.changed_data if f not in ("password1", "password2", "usable_password")]
            verb = "staff.user_changed" if change else "staff.user_created"
            audit_user(actor=request.user, verb=verb, user=user, data={"fields": sorted(changed)})
        if role is not None:
            audit_role_saved(actor=request.user, role=role, before=before)
        sync_staff_flag(user=user, actor=request.user)


@admin.register(RegistrationSheet)
class RegistrationSheetAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: sheets change state only through the workflow services (pages, command)."""

    list_display = ["id", "original_name", "union", "status", "rows_accepted", "rows_rejected", "created_at"]
    list_filter = ["status"]
    list_select_related = ["union"]
    search_fields = ["original_name", "union__name", "sha256"]
    readonly_fields = [f.name for f in RegistrationSheet._meta.fields]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SubmissionGroup)
class SubmissionGroupAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_union_field = "owner"
    list_display = ["name", "due_date", "owner"]
    list_select_related = ["owner"]
    filter_horizontal = ["unions"]
    autocomplete_fields = ["owner"]


# API tokens are staff accounts' (issued from the user list above); their admin lives beside it.
admin.site.unregister(AuthToken)  # knox's own admin lists digests and shows new tokens in a message


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Tokens are listed by prefix only; they are issued and rotated from the staff user list
    (action) or `manage.py api_token`, and deleting one here revokes it (audited)."""

    scope_union_field = "user__staff__union"
    list_display = ["user", "prefix", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "prefix", "created", "expiry"]
    readonly_fields = fields
    actions = ["revoke_selected"]

    @admin.display(description="令牌前缀")
    def prefix(self, obj):
        return f"{token_prefix(obj)}…"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # revoke_selected does it, through the service
        return actions

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        if not super().has_delete_permission(request):
            return False
        return obj is None or may_manage_user(request.user, obj.user)

    def delete_model(self, request, obj):
        api_token_revoke(token=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        if not all(self.has_delete_permission(request, obj) for obj in queryset):
            raise PermissionDenied
        for token in queryset:
            api_token_revoke(token=token, actor=request.user)

    @admin.action(description="作废所选 API 令牌")
    def revoke_selected(self, request, queryset):
        self.delete_queryset(request, queryset)
        self.message_user(request, f"已作废 {len(queryset)} 个令牌")
