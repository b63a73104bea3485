from members.access import Cap, access_for

from . import selectors


def league_panel(request, _obj):
    if not access_for(request.user).can(Cap.LEAGUE_READ):
        return None
    month = selectors.default_month()
    table = selectors.league_table(user=request.user, month=month, service_items={})
    if not table.rows:
        return None
    return {"title": f"发卡任务进度（{month:%Y年%m月}）", "table": table, "top": table.rows[:5]}
