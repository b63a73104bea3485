from cardportal.scoping import staff_of

from . import selectors
from .views import READER_ROLES


def league_panel(request, _obj):
    staff = staff_of(request.user)
    if not (request.user.is_superuser or (staff is not None and staff.role in READER_ROLES)):
        return None
    month = selectors.default_month()
    table = selectors.league_table(user=request.user, month=month, service_items={})
    if not table.rows:
        return None
    return {"title": f"发卡任务进度（{month:%Y年%m月}）", "table": table, "top": table.rows[:5]}
