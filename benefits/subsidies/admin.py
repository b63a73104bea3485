"""Campaigns in the admin, scoped like the others; saving goes through the services (audited;
the rule is frozen after creation). Earnings are read-only (the engine writes them)."""

from django.contrib import admin, messages

from cardportal.admin import ScopedAdminMixin
from cardportal.errors import ApplicationError

from . import services
from .forms import FIELDS
from .models import SubsidyCampaign, SubsidyEarning

RULE_FIELDS = [f for f in FIELDS if f not in services.CHANGEABLE]


@admin.register(SubsidyCampaign)
class SubsidyCampaignAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "union", "rule", "budget", "spent", "starts_on", "ends_on", "is_active"]
    list_select_related = ["union"]
    list_filter = ["is_active", "rule", "audience"]
    search_fields = ["name"]
    filter_horizontal = ["merchants", "categories"]
    fields = ["name", "union", *FIELDS[1:], "is_active", "spent"]
    readonly_fields = ["spent"]

    def has_delete_permission(self, request, obj=None):
        return False  # earnings and batches point at it; a campaign is stopped, never deleted

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["union", *RULE_FIELDS, "spent"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                changes = {k: data[k] for k in services.CHANGEABLE if k in data and k in form.changed_data}
                saved = services.subsidy_campaign_update(campaign=obj, actor=request.user, changes=changes)
            else:
                fields = {k: data[k] for k in FIELDS if k not in ("merchants", "categories")}
                fields["is_active"] = data.get("is_active", True)
                saved = services.subsidy_campaign_create(
                    actor=request.user,
                    union=data["union"],
                    fields=fields,
                    merchants=list(data.get("merchants", [])),
                    categories=list(data.get("categories", [])),
                )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        """Merchants and categories were set by the service, inside its audited transaction."""


@admin.register(SubsidyEarning)
class SubsidyEarningAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["campaign", "txn_at", "merchant", "txn_amount", "amount", "status"]
    list_select_related = ["campaign", "merchant"]
    list_filter = ["status"]
    fields = [
        "campaign",
        "txn_id",
        "txn_at",
        "month",
        "reference",
        "merchant",
        "txn_amount",
        "amount",
        "status",
        "after_payout",
        "reverses",
        "line",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
