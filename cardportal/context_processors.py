from django.urls import reverse

from .registry import registry
from .scoping import access_for

# Top-bar menus: navigation entries grouped by the app (URL namespace) that registered them.
NAV_GROUPS = {
    "members": "会员登记",
    "issuance": "发卡",
    "merchants": "商户与普惠",
    "benefits": "商户与普惠",
    "quotas": "任务考核",
    "analytics": "用卡分析",
}


def staff_role(request):
    access = access_for(request.user)
    groups: dict[str, dict] = {}
    if access.is_staff_user:
        items = [
            (item, reverse(item.url_name))
            for item in registry.nav
            if item.capability is None or access.can(item.capability)
        ]
        # The entry whose URL is the longest prefix of this page is the current one
        # (/members/sheets/ is 登记表, not 会员 at /members/).
        current = max((url for _, url in items if request.path.startswith(url)), key=len, default=None)
        for item, url in items:
            label = NAV_GROUPS.get(item.url_name.split(":")[0], item.label)
            group = groups.setdefault(label, {"label": label, "items": [], "active": False})
            group["items"].append({"label": item.label, "url": url, "active": url == current})
            group["active"] = group["active"] or url == current
    return {"staff": access.staff, "nav_groups": list(groups.values())}
