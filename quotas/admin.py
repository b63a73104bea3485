from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path

from cardportal.admin import ScopedAdminMixin, SetByLevelAboveMixin
from cardportal.errors import ApplicationError

from .forms import PlanUploadForm
from .models import AssessmentInput, Bulletin, BulletinRow, Quota, WorkTeam
from .services import quotas_load


@admin.register(Quota)
class QuotaAdmin(SetByLevelAboveMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["union", "year", "target", "new_in_year", "member_base", "planned_rate"]
    list_filter = ["year"]
    search_fields = ["union__name"]
    list_select_related = ["union"]
    change_list_template = "admin/quotas/quota/change_list.html"

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="quotas_quota_import")
        ] + super().get_urls()

    def import_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = PlanUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                text = form.cleaned_data["file"].read().decode("utf-8-sig")
                result = quotas_load(text=text, actor=request.user)
            except UnicodeDecodeError:
                form.add_error("file", "文件须为 UTF-8 编码的 CSV")
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                messages.success(
                    request,
                    f"已导入 {result['unions']} 个县级工会的任务：新增 {result['created']} 条，更新 {result['updated']} 条",
                )
                return redirect("admin:quotas_quota_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "导入发卡任务规划",
            "opts": self.model._meta,
        }
        return render(request, "admin/quotas/quota/import.html", context)


class BulletinRowInline(admin.TabularInline):
    model = BulletinRow
    extra = 0
    can_delete = False
    fields = [
        "rank",
        "union_name",
        "target",
        "issued",
        "issued_in_month",
        "issued_correction",
        "completion",
        "activated",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bulletin)
class BulletinAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Bulletins are city-wide: only portal admins whose scope is the whole tree see them here;
    publishing goes through the page (quotas:bulletin_detail), never an admin edit."""

    scope_union_field = ""
    list_display = ["month", "status", "drafted_at", "published_at", "published_by"]
    readonly_fields = ["month", "status", "drafted_at", "published_at", "published_by", "previous"]
    inlines = [BulletinRowInline]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return qs if request.user.is_superuser else qs.none()

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AssessmentInput)
class AssessmentInputAdmin(SetByLevelAboveMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "union",
        "year",
        "leadership",
        "measures",
        "missed_reports",
        "public_criticisms",
        "updated_by",
    ]
    list_filter = ["year"]
    list_select_related = ["union", "updated_by"]
    readonly_fields = ["updated_by", "updated_at"]


@admin.register(WorkTeam)
class WorkTeamAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The campaign teams whose weekly reports the 推进周报 page collects (seed 002 三)."""

    list_display = ["name", "leader", "owner", "order"]
    list_select_related = ["owner"]
    scope_union_field = "owner"
