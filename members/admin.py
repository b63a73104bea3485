from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from cardportal import crypto
from cardportal.admin import ScopedAdminMixin

from .idcard import normalise
from .models import Member, MemberTransfer, RegistrationSheet, StaffRole, SubmissionGroup, Union

User = get_user_model()


@admin.register(Union)
class UnionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_union_field = ""
    list_display = ["name", "code", "level", "parent", "unit_type", "declared_members"]
    list_filter = ["level", "unit_type"]
    search_fields = ["name", "code"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["path", "depth"]


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


class StaffRoleInline(admin.StackedInline):
    model = StaffRole
    can_delete = False
    autocomplete_fields = ["union"]


@admin.register(StaffRole)
class StaffRoleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "role", "union"]
    list_filter = ["role"]
    search_fields = ["user__username", "union__name"]
    list_select_related = ["user", "union"]
    autocomplete_fields = ["union"]


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(ScopedAdminMixin, BaseUserAdmin):
    scope_union_field = "staff__union"
    inlines = [StaffRoleInline]
    list_display = ["username", "first_name", "is_active", "is_staff", "last_login"]


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
