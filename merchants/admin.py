"""The admins' main tool for merchants: Chinese labels, search, filters, inline offers, bulk
actions (exit with a reason via an intermediate page, suspend, reinstate, mark signage) and
CSV/Excel export. Every write goes through `merchants.services` (audit rows included)."""

import io

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils import timezone

from cardportal import exports
from cardportal.admin import PortalInlineMixin, ScopedAdminMixin, WholeTreeWriteMixin
from cardportal.downloads import attachment
from cardportal.errors import ApplicationError
from members.models import Union

from . import services
from .models import EvaluationPolicy, Merchant, MerchantCategory, MerchantEvaluation, MerchantReview, Offer
from .selectors import COUNTY_LEVELS


class UnscopedPortalAdmin(WholeTreeWriteMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Catalogue-wide settings (categories, thresholds): not tied to a union, so every portal
    admin reads them and only a whole-tree admin changes them."""

    def get_queryset(self, request):
        return admin.ModelAdmin.get_queryset(self, request)


@admin.register(MerchantCategory)
class MerchantCategoryAdmin(UnscopedPortalAdmin):
    list_display = ["name", "order", "merchant_count"]
    list_editable = ["order"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n=Count("merchants"))

    @admin.display(description="商户数", ordering="n")
    def merchant_count(self, obj):
        return obj.n


@admin.register(EvaluationPolicy)
class EvaluationPolicyAdmin(UnscopedPortalAdmin):
    list_display = ["__str__", "window_days", "min_ratings", "exit_below", "promote_at_least"]

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request) and not EvaluationPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class OfferInline(PortalInlineMixin, admin.TabularInline):
    model = Offer
    extra = 1
    fields = ["description", "terms", "valid_from", "valid_until", "audience"]


class EvaluationInline(PortalInlineMixin, admin.TabularInline):
    """Staff add a routine evaluation here; existing ones are read-only (they feed the score)."""

    model = MerchantEvaluation
    extra = 0
    can_delete = False
    fields = ["evaluated_on", "rating", "note", "evaluator"]
    readonly_fields = ["evaluator"]
    verbose_name = "日常考评"
    verbose_name_plural = "日常考评（新增后自动重新计算评分）"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CountyFilter(admin.SimpleListFilter):
    title = "区域（县级工会）"
    parameter_name = "area"

    def lookups(self, request, model_admin):
        visible = model_admin.get_queryset(request).values("union_id")
        unions = Union.objects.filter(pk__in=visible).order_by("depth", "code")
        counties = Union.objects.filter(level__in=COUNTY_LEVELS).order_by("code")
        choices = [(str(u.pk), u.name) for u in unions if u.level not in COUNTY_LEVELS]
        paths = [u.path for u in unions]
        choices += [(str(c.pk), c.name) for c in counties if any(p.startswith(c.path) for p in paths)]
        return choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        area = Union.objects.filter(pk=self.value()).first()
        if area is None:
            return queryset.none()
        if area.level in COUNTY_LEVELS:
            return queryset.filter(union__path__startswith=area.path)
        return queryset.filter(union=area)


class MerchantForm(forms.ModelForm):
    class Meta:
        model = Merchant
        fields = [
            "name",
            "category",
            "union",
            "address",
            "contact_person",
            "contact_phone",
            "contract_start",
            "contract_end",
            "status",
            "signage_issued",
            "signage_issued_on",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            # Exit needs a reason and a date: it is the "退出" action, not a field edit.
            self.fields["status"].choices = [
                c for c in self.fields["status"].choices if c[0] != Merchant.Status.EXITED
            ]
        if "union" in self.fields:
            self.fields["union"].queryset = self.fields["union"].queryset.filter(
                level__in=[*COUNTY_LEVELS, Union.Level.CITY]
            )


class ExitForm(forms.Form):
    reason = forms.CharField(
        label="退出原因", max_length=300, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )
    exited_on = forms.DateField(label="退出日期", initial=timezone.localdate)


EXPORT_COLUMNS = [
    ("商户名称", lambda m: m.name),
    ("类别", lambda m: m.category.name),
    ("区域", lambda m: m.union.name),
    ("地址", lambda m: m.address),
    ("联系人", lambda m: m.contact_person),
    ("联系电话", lambda m: m.contact_phone),
    ("合约开始", lambda m: m.contract_start.isoformat()),
    ("合约结束", lambda m: m.contract_end.isoformat() if m.contract_end else ""),
    ("状态", lambda m: m.get_status_display()),
    ("已挂牌", lambda m: "是" if m.signage_issued else "否"),
    ("综合评分", lambda m: str(m.score) if m.score is not None else ""),
    ("评价数", lambda m: m.rating_count),
    ("评议标记", lambda m: m.get_flag_display() if m.flag else ""),
    ("优惠项目", lambda m: "；".join(f"{o.description} {o.terms}" for o in m.offers.all())),
    ("退出原因", lambda m: m.exit_reason),
]

# 联系电话: digits kept as text (a leading 0 of a landline, no number format).
PHONE_COLS = (5,)


@admin.register(Merchant)
class MerchantAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = MerchantForm
    list_display = [
        "name",
        "category",
        "union",
        "status",
        "signage",
        "offer_count",
        "score_display",
        "flag_tag",
        "contract_end",
    ]
    list_filter = ["status", "category", "flag", "signage_issued", CountyFilter]
    search_fields = ["name", "address", "contact_person", "offers__description"]
    list_select_related = ["category", "union"]
    list_per_page = 50
    autocomplete_fields = ["union"]
    inlines = [OfferInline, EvaluationInline]
    actions = [
        "exit_selected",
        "suspend_selected",
        "reinstate_selected",
        "mark_signage",
        "export_csv",
        "export_xlsx",
    ]
    fieldsets = [
        (None, {"fields": ["name", "category", "union", "address", ("contact_person", "contact_phone")]}),
        (
            "合约与挂牌",
            {
                "fields": [
                    ("contract_start", "contract_end"),
                    "status",
                    ("signage_issued", "signage_issued_on"),
                ]
            },
        ),
        ("评议", {"fields": [("score", "rating_count", "flag")]}),
        ("退出", {"fields": [("exited_on", "exit_reason")], "classes": ["collapse"]}),
    ]
    readonly_fields = ["score", "rating_count", "flag", "exited_on", "exit_reason"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_offers=Count("offers", distinct=True))

    def has_delete_permission(self, request, obj=None):
        """A merchant leaves through "退出所选商户" with a date and a reason (kept, audited, shown to
        members as exited), never by deleting its row and its members' reviews with it."""
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status == Merchant.Status.EXITED:
            return [*self.readonly_fields, "status"]
        return self.readonly_fields

    @admin.display(description="优惠项目数", ordering="n_offers")
    def offer_count(self, obj):
        return obj.n_offers

    @admin.display(description="挂牌", boolean=True, ordering="signage_issued")
    def signage(self, obj):
        return obj.signage_issued

    @admin.display(description="评分（条数）", ordering="score")
    def score_display(self, obj):
        return f"{obj.score}（{obj.rating_count}）" if obj.score is not None else "—"

    @admin.display(description="评议标记", ordering="flag")
    def flag_tag(self, obj):
        return obj.get_flag_display() if obj.flag else "—"

    def save_model(self, request, obj, form, change):
        services.merchant_save_from_admin(merchant=obj, actor=request.user, created=not change)

    def save_formset(self, request, form, formset, change):
        if formset.model is not MerchantEvaluation:
            return super().save_formset(request, form, formset, change)
        for evaluation in formset.save(commit=False):
            services.merchant_evaluate(
                merchant=form.instance,
                rating=evaluation.rating,
                note=evaluation.note,
                on=evaluation.evaluated_on,
                actor=request.user,
            )

    # --- bulk actions ------------------------------------------------------------------------
    @admin.action(description="退出所选商户（填写退出原因）")
    def exit_selected(self, request, queryset):
        if "confirm" in request.POST:
            form = ExitForm(request.POST)
            if form.is_valid():
                try:
                    n = services.merchants_exit(
                        merchants=list(queryset),
                        reason=form.cleaned_data["reason"],
                        on=form.cleaned_data["exited_on"],
                        actor=request.user,
                    )
                except ApplicationError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                    return None
                self.message_user(request, f"已退出 {n} 家商户", messages.SUCCESS)
                return None
        else:
            form = ExitForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "退出商户",
            "form": form,
            "merchants": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/merchants/merchant/exit_confirm.html", context)

    @admin.action(description="暂停所选商户")
    def suspend_selected(self, request, queryset):
        n = services.merchants_set_status(
            merchants=queryset, status=Merchant.Status.SUSPENDED, actor=request.user
        )
        self.message_user(request, f"已暂停 {n} 家商户", messages.SUCCESS)

    @admin.action(description="恢复合作")
    def reinstate_selected(self, request, queryset):
        n = services.merchants_set_status(
            merchants=queryset, status=Merchant.Status.ACTIVE, actor=request.user
        )
        self.message_user(request, f"已恢复 {n} 家商户", messages.SUCCESS)

    @admin.action(description="标记已挂“特约商户”牌")
    def mark_signage(self, request, queryset):
        n = services.merchants_mark_signage(merchants=queryset, actor=request.user)
        self.message_user(request, f"已标记 {n} 家商户挂牌", messages.SUCCESS)

    def _export_rows(self, queryset):
        qs = queryset.select_related("category", "union").prefetch_related("offers").order_by("name", "id")
        yield [name for name, _ in EXPORT_COLUMNS]
        for merchant in qs:
            yield [get(merchant) for _, get in EXPORT_COLUMNS]

    @admin.action(description="导出所选商户（CSV）")
    def export_csv(self, request, queryset):
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        exports.csv_writer(buffer, text_cols=PHONE_COLS).writerows(self._export_rows(queryset))
        return attachment(buffer.getvalue(), "merchants.csv", "text/csv; charset=utf-8")

    @admin.action(description="导出所选商户（Excel）")
    def export_xlsx(self, request, queryset):
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("特约商户")
        for row in self._export_rows(queryset):
            exports.xlsx_append(sheet, row, text_cols=PHONE_COLS)
        buffer = io.BytesIO()
        book.save(buffer)
        return attachment(buffer.getvalue(), "merchants.xlsx")


class ReadOnlyScopedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MerchantReview)
class MerchantReviewAdmin(ReadOnlyScopedAdmin):
    """Members' reviews: read here; they come in through the service (one per member per period)."""

    scope_union_field = "merchant__union"
    list_display = ["merchant", "member_name", "period", "rating", "comment", "reviewed_on"]
    list_filter = ["period", "rating"]
    search_fields = ["merchant__name", "member__name"]
    list_select_related = ["merchant", "member"]
    show_full_result_count = False

    @admin.display(description="会员", ordering="member__name")
    def member_name(self, obj):
        return obj.member.name  # never the ID number


@admin.register(MerchantEvaluation)
class MerchantEvaluationAdmin(ReadOnlyScopedAdmin):
    scope_union_field = "merchant__union"
    list_display = ["merchant", "evaluated_on", "rating", "note", "evaluator"]
    list_filter = ["rating"]
    search_fields = ["merchant__name"]
    list_select_related = ["merchant", "evaluator"]
