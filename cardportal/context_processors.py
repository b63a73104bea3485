from django.urls import reverse

from .registry import registry
from .scoping import staff_of

# Top-bar menus: navigation entries grouped by the app (URL namespace) that registered them.
NAV_GROUPS = {
    "members": "会员登记",
    "issuance": "发卡",
    "merchants": "商户与普惠",
    "benefits": "商户与普惠",
    "quotas": "任务考核",
}


def staff_role(request):
    staff = staff_of(request.user)
    groups: dict[str, dict] = {}
    if staff is not None or getattr(request.user, "is_superuser", False):
        role = staff.role if staff else "admin"
        for item in registry.nav:
            if item.roles is not None and role not in item.roles:
                continue
            url = reverse(item.url_name)
            label = NAV_GROUPS.get(item.url_name.split(":")[0], item.label)
            group = groups.setdefault(label, {"label": label, "items": [], "active": False})
            active = request.path.startswith(url)
            group["items"].append({"label": item.label, "url": url, "active": active})
            group["active"] = group["active"] or active
    return {"staff": staff, "nav_groups": list(groups.values())}
