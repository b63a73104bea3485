"""Programmes and their amount tiers are set up here by admins; claims and batches are read here
(they are worked on in the portal's pages, through the services)."""

from django import forms
from django.contrib import admin

from cardportal.admin import ScopedAdminMixin
from members.models import Member, Union

from .models import AmountTier, BenefitProgramme, Claim, Disbursement, DisbursementLine


class TierForm(forms.ModelForm):
    unit_types = forms.MultipleChoiceField(
        label="限单位性质",
        choices=Union.UnitType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="不选表示不限",
    )

    class Meta:
        model = AmountTier
        fields = ["order", "label", "amount", "unit_types", "requires_dues_paid"]


class ProgrammeForm(forms.ModelForm):
    employment_types = forms.MultipleChoiceField(
        label="限用工类型",
        choices=Member.EmploymentType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="不选表示不限",
    )

    class Meta:
        model = BenefitProgramme
        fields = ["employment_types"]  # the admin's fieldsets name the rest


class PortalInline:
    def has_view_permission(self, request, obj=None):
        return ScopedAdminMixin._is_portal_admin(request)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


class TierInline(PortalInline, admin.TabularInline):
    model = AmountTier
    form = TierForm
    extra = 1


@admin.register(BenefitProgramme)
class BenefitProgrammeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "union", "card_requirement", "valid_from", "valid_until", "is_active"]
    list_filter = ["kind", "is_active", "card_requirement"]
    search_fields = ["name", "code"]
    list_select_related = ["union"]
    autocomplete_fields = ["union"]
    form = ProgrammeForm
    inlines = [TierInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "code",
                    "kind",
                    "union",
                    "description",
                    ("valid_from", "valid_until"),
                    "is_active",
                    "member_may_claim",
                    "how_to_claim",
                ]
            },
        ),
        (
            "资格条件",
            {
                "fields": [
                    "card_requirement",
                    "requires_in_service",
                    "employment_types",
                    ("requires_hardship", "requires_model_worker"),
                    "card_applied_before",
                    "once_per_member",
                ]
            },
        ),
        (
            "金额上限（发放批次的四眼审批规则）",
            {
                "fields": [("max_per_member", "max_per_batch")],
                "description": "留空：每人上限取最高金额档次，每批上限取发放类别的默认值（见 benefits/limits.py）。",
            },
        ),
    ]


class ReadOnlyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "programme",
        "member_name",
        "union",
        "amount",
        "status",
        "created_at",
        "reviewed_by",
    ]
    list_filter = ["status", "programme"]
    search_fields = ["member__name", "facts"]
    list_select_related = ["programme", "member", "union", "reviewed_by"]
    exclude = ["member"]

    @admin.display(description="会员", ordering="member__name")
    def member_name(self, obj):
        return obj.member.name


class LineInline(PortalInline, admin.TabularInline):
    model = DisbursementLine
    fields = ["name", "card_tail", "amount", "status", "paid_at", "bank_reference", "failure_reason"]
    readonly_fields = fields
    extra = 0
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    has_change_permission = has_delete_permission = has_add_permission

    @admin.display(description="卡号尾号")
    def card_tail(self, obj):
        return obj.card_tail


@admin.register(Disbursement)
class DisbursementAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "kind",
        "union",
        "programme",
        "state",
        "created_by",
        "approved_by",
        "approved_total",
        "created_at",
    ]
    list_filter = ["kind", "state"]
    search_fields = ["name"]
    list_select_related = ["union", "programme", "created_by", "approved_by"]
    exclude = ["payment_file"]
    inlines = [LineInline]
