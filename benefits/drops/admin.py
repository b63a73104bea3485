"""Admins create and read drops here too. Saving goes through the services (audited; no change
after opening); tickets are read-only here (they change by claim, payment, expiry, redemption)."""

from django.contrib import admin, messages

from cardportal.admin import ScopedAdminMixin
from cardportal.errors import ApplicationError

from . import services
from .models import Drop, Ticket


@admin.register(Drop)
class DropAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["title", "venue", "tickets", "taken", "price", "opens_at", "closes_at", "closed_early_at"]
    list_select_related = ["union", "merchant"]
    search_fields = ["title", "venue"]
    filter_horizontal = ["counties"]
    readonly_fields = ["taken", "closed_early_at"]
    fields = [
        "title",
        "merchant",
        "venue",
        "picture",
        "description",
        "union",
        "tickets",
        "price",
        ("opens_at", "closes_at"),
        "per_member_limit",
        "counties",
        "hardship_only",
        "taken",
        "closed_early_at",
    ]
    actions = ["close_early"]

    def has_delete_permission(self, request, obj=None):
        return False  # tickets point at it; a drop is closed, never deleted

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.has_opened():
            return [f for f in self.fields if isinstance(f, str)] + ["opens_at", "closes_at"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {k: form.cleaned_data[k] for k in services.EDITABLE_FIELDS if k in form.cleaned_data}
        counties = form.cleaned_data.get("counties", [])
        try:
            if change:
                saved = services.drop_update(drop=obj, actor=request.user, fields=fields, counties=counties)
            else:
                saved = services.drop_create(
                    actor=request.user, union=form.cleaned_data["union"], fields=fields, counties=counties
                )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        """The counties were set by the service, inside its audited transaction."""

    @admin.action(description="提前结束所选活动")
    def close_early(self, request, queryset):
        for drop in queryset:
            try:
                services.drop_close_early(drop=drop, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{drop}：{exc.message}", messages.WARNING)


@admin.register(Ticket)
class TicketAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_union_field = "drop__union"
    list_display = ["code", "drop", "status", "claimed_at", "paid_at", "used_at"]
    list_filter = ["status"]
    list_select_related = ["drop"]
    search_fields = ["code"]
    fields = ["drop", "code", "slot", "status", "claimed_at", "pay_by", "paid_at", "used_at", "used_at_venue"]
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
