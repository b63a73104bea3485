from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import AuditEntry
from .scoping import access_for, can, scope_queryset

ADMIN_SITE = "admin.site"  # members.access.Cap.ADMIN_SITE: the portal's admin role, superusers


def scoped_choices(admin_site, request, db_field, kwargs: dict) -> None:
    """Offer in a form's select (or autocomplete) only the rows the user sees in that model's own
    admin. Django validates a posted id against the field's queryset, which is the whole table
    unless set here: a scoped admin could otherwise post `union=<province root>` and save it."""
    if request.user.is_superuser or "queryset" in kwargs:
        return
    related = admin_site._registry.get(db_field.remote_field.model)
    if isinstance(related, ScopedAdminMixin):
        kwargs["queryset"] = related.get_queryset(request)


class ScopedFormFieldsMixin:
    """For inlines: the same scoped choices as ScopedAdminMixin's forms."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scoped_choices(self.admin_site, request, db_field, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        scoped_choices(self.admin_site, request, db_field, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class PortalInlineMixin:
    """Inlines follow the portal's admin role like ScopedAdminMixin (Django's per-model
    permissions are not used)."""

    def has_view_permission(self, request, obj=None):
        return can(request.user, ADMIN_SITE)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


class ScopedAdminMixin(ScopedFormFieldsMixin):
    """Admin querysets go through the same scoping as pages and the API; a record outside the
    admin user's subtree is a 404 (Django's default would redirect with a hint that it exists).
    Every select on its forms offers only rows inside the subtree (`scoped_choices`)."""

    scope_union_field = "union"

    # The portal's admin role manages its subtree; Django's per-model permissions are not used.
    def has_module_permission(self, request):
        return can(request.user, ADMIN_SITE)

    def has_view_permission(self, request, obj=None):
        return can(request.user, ADMIN_SITE)

    def has_change_permission(self, request, obj=None):
        return can(request.user, ADMIN_SITE)

    def has_add_permission(self, request, *args):
        return can(request.user, ADMIN_SITE)

    def has_delete_permission(self, request, obj=None):
        return can(request.user, ADMIN_SITE)

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, union_field=self.scope_union_field)

    def delete_queryset(self, request, queryset):
        # The changelist's bulk delete asks has_delete_permission without an object; ask per row.
        if not all(self.has_delete_permission(request, obj) for obj in queryset):
            raise PermissionDenied
        super().delete_queryset(request, queryset)

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


class WholeTreeWriteMixin:
    """Settings not tied to a union (bank partners, merchant categories, thresholds) are shared by
    every county: any portal admin reads them, only a whole-tree admin changes them."""

    def has_add_permission(self, request, *args):
        return access_for(request.user).is_whole_tree_admin and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return access_for(request.user).is_whole_tree_admin and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return access_for(request.user).is_whole_tree_admin and super().has_delete_permission(request, obj)


class SetByLevelAboveMixin:
    """Rows a union's superior sets for it (quotas, assessment scores): a scoped admin sets them
    only for unions strictly below their own and reads, never changes, their own union's."""

    def has_change_permission(self, request, obj=None):
        if obj is not None and not access_for(request.user).governs(obj.union):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not access_for(request.user).governs(obj.union):
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        access = access_for(request.user)
        if db_field.name == "union" and access.staff is not None and not access.superuser:
            field.queryset = field.queryset.exclude(pk=access.staff.union_id)
        return field


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
