from django.contrib import admin
from django.http import Http404

from .models import AuditEntry
from .scoping import scope_queryset, staff_of


class ScopedAdminMixin:
    """Admin querysets go through the same scoping as pages and the API; a record outside the
    admin user's subtree is a 404 (Django's default would redirect with a hint that it exists)."""

    scope_union_field = "union"

    @staticmethod
    def _is_portal_admin(request) -> bool:
        staff = staff_of(request.user)
        return request.user.is_superuser or (staff is not None and staff.role == "admin")

    # The portal's admin role manages its subtree; Django's per-model permissions are not used.
    def has_module_permission(self, request):
        return self._is_portal_admin(request)

    def has_view_permission(self, request, obj=None):
        return self._is_portal_admin(request)

    def has_change_permission(self, request, obj=None):
        return self._is_portal_admin(request)

    def has_add_permission(self, request, *args):
        return self._is_portal_admin(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_portal_admin(request)

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, union_field=self.scope_union_field)

    def _ensure_visible(self, request, object_id):
        if object_id is not None and self.get_object(request, object_id) is None:
            raise Http404

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._ensure_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._ensure_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._ensure_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)


@admin.register(AuditEntry)
class AuditEntryAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor", "verb_label", "target_label", "union", "ip"]
    list_filter = ["verb"]
    search_fields = ["target_label", "actor__username", "verb"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "union"]

    def get_queryset(self, request):
        # Entries not tied to a union (system-wide actions) are for superusers only.
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(union__isnull=False)

    @admin.display(description="操作", ordering="verb")
    def verb_label(self, obj):
        return obj.verb_label

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
