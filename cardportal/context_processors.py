from django.urls import reverse

from .registry import registry
from .scoping import staff_of


def staff_role(request):
    staff = staff_of(request.user)
    nav = []
    if staff is not None or getattr(request.user, "is_superuser", False):
        role = staff.role if staff else "admin"
        for item in registry.nav:
            if item.roles is None or role in item.roles:
                url = reverse(item.url_name)
                nav.append({"label": item.label, "url": url, "active": request.path.startswith(url)})
    return {"staff": staff, "nav_items": nav}
