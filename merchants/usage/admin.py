"""Merchant numbers inline in the Merchant admin; partners' feed layouts (JSON over a default,
checked by `layouts.validate_feed_layout` on save)."""

import json

from django.contrib import admin

from cardportal.admin import PortalInlineMixin
from merchants.admin import MerchantAdmin, UnscopedPortalAdmin

from .layouts import DEFAULT_FEEDS
from .models import MerchantMID, PartnerFeed


class MerchantMIDInline(PortalInlineMixin, admin.TabularInline):
    """The merchant's numbers as each acquirer knows it: the feed matches transactions by them."""

    model = MerchantMID
    extra = 1
    fields = ["partner", "mid"]
    verbose_name = "商户号"
    verbose_name_plural = "商户号（银行交易明细按此匹配特约商户）"


MerchantAdmin.inlines = [*MerchantAdmin.inlines, MerchantMIDInline]


@admin.register(PartnerFeed)
class PartnerFeedAdmin(UnscopedPortalAdmin):
    list_display = ["name", "partner", "code", "base"]
    list_filter = ["partner"]
    fields = ["partner", "code", "name", "base", "layout", "default_layout"]
    readonly_fields = ["default_layout"]

    @admin.display(description="基础格式（默认值）")
    def default_layout(self, obj):
        return json.dumps(DEFAULT_FEEDS.get(getattr(obj, "base", "bank"), {}), ensure_ascii=False, indent=1)
