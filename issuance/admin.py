"""Admin: partners and their file layouts, waves; cards, batches and files read-only (status
changes go through the services, never a form save)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from cardportal.admin import ScopedAdminMixin
from members.access import Cap, access_for

from . import layouts
from .models import (
    ActivationSession,
    BankBatch,
    BankFileImport,
    Card,
    CardNotice,
    CardReceipt,
    IssuingPartner,
    Wave,
)
from .services.waves import WAVE_FIELDS, wave_create, wave_update


class ReadOnlyMixin:
    """Put before ScopedAdminMixin in the bases: its portal-admin permissions would win otherwise."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PartnerForm(forms.ModelForm):
    class Meta:
        model = IssuingPartner
        fields = ["code", "name", "is_primary", "role", "function_kind", "handoff_layout", "return_layout"]

    def clean(self):
        """The hand-off layout is checked against the role's fields (a function partner's list
        has the card number and no full ID number); a function partner names its function."""
        data = super().clean()
        role, value = data.get("role"), data.get("handoff_layout") or {}
        if role == IssuingPartner.Role.FUNCTION and not data.get("function_kind"):
            self.add_error("function_kind", "功能合作方须选择它开通的功能")
        if "handoff_layout" in data:
            try:
                if role == IssuingPartner.Role.FUNCTION:
                    layouts.validate_function_handoff_layout({**layouts.DEFAULT_FUNCTION_HANDOFF, **value})
                else:
                    layouts.validate_handoff_layout({**layouts.DEFAULT_HANDOFF, **value})
            except ValidationError as exc:
                self.add_error("handoff_layout", exc.messages)
            data["handoff_layout"] = value
        return data

    def clean_return_layout(self):
        value = self.cleaned_data["return_layout"] or {}
        layouts.validate_return_layout(value)
        return value


@admin.register(IssuingPartner)
class IssuingPartnerAdmin(admin.ModelAdmin):
    """Partners are city-wide (no union): every portal admin reads them, only a whole-tree admin
    changes them (a county admin must not redirect another county's hand-off layout)."""

    form = PartnerForm
    list_display = ["name", "code", "is_primary", "role", "function_kind"]

    def has_module_permission(self, request):
        return access_for(request.user).can(Cap.ADMIN_SITE)

    def has_view_permission(self, request, obj=None):
        return access_for(request.user).can(Cap.ADMIN_SITE)

    def has_change_permission(self, request, obj=None):
        return access_for(request.user).is_whole_tree_admin

    def has_add_permission(self, request):
        return access_for(request.user).is_whole_tree_admin

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Wave)
class WaveAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_union_field = "owner"
    list_display = ["name", "owner", "target", "starts_on", "deadline", "partner"]
    filter_horizontal = ["unions"]
    list_select_related = ["owner", "partner"]

    def save_model(self, request, obj, form, change):
        """Through the services (audited, role-checked), unions included: save_related below
        leaves them alone."""
        fields = {name: form.cleaned_data[name] for name in WAVE_FIELDS if name in form.cleaned_data}
        unions = form.cleaned_data.get("unions")
        if change:
            saved = wave_update(wave=obj, unions=unions, actor=request.user, **fields)
        else:
            saved = wave_create(unions=unions or [], actor=request.user, **fields)
        obj.pk = saved.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Card)
class CardAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["number", "member", "union", "status", "batch", "applied_at", "issued_at", "activated_at"]
    list_filter = ["status", "is_hardship"]
    search_fields = ["number"]
    list_select_related = ["member", "union", "batch"]
    show_full_result_count = False
    raw_id_fields = ["member", "union", "replaces", "batch"]


@admin.register(BankBatch)
class BankBatchAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "partner", "union", "wave", "card_count", "status", "job_status", "created_at"]
    list_filter = ["status", "partner"]
    list_select_related = ["partner", "union", "wave"]
    exclude = ["handoff_file"]  # downloads go through the audited page


@admin.register(BankFileImport)
class BankFileImportAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["file_name", "kind", "batch", "job_status", "job_message", "created_at"]
    list_filter = ["kind", "job_status"]
    list_select_related = ["batch"]
    exclude = ["file"]


@admin.register(CardReceipt)
class CardReceiptAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["at", "union", "expected", "selected", "counted", "accepted", "actor"]
    list_filter = ["accepted"]
    list_select_related = ["union", "actor"]


@admin.register(ActivationSession)
class ActivationSessionAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["held_on", "union", "place", "activated", "actor"]
    list_select_related = ["union", "actor"]


@admin.register(CardNotice)
class CardNoticeAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "union", "kind", "message", "read_at"]
    list_filter = ["kind"]
    list_select_related = ["union"]
