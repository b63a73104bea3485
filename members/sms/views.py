from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from cardportal.pagination import paginate
from members.models import StaffRole

from . import selectors
from .gateways import get_gateway
from .services import sms_secret_params
from .templates import label

# City staff and above: the outbox names members of many unions.
OUTBOX_ROLES = frozenset({StaffRole.Role.CITY_STAFF, StaffRole.Role.PROVINCE_STAFF, StaffRole.Role.ADMIN})


def _may_read_outbox(user) -> bool:
    from cardportal.scoping import staff_of

    staff = staff_of(user)
    return user.is_superuser or (staff is not None and staff.role in OUTBOX_ROLES)


@login_required
def outbox(request):
    if not _may_read_outbox(request.user):
        raise PermissionDenied
    page = paginate(request, selectors.sms_list_for_user(user=request.user))
    # Secret parameters (sign-in codes) are shown only while the gateway delivers nothing (demo).
    shows_secrets = get_gateway().shows_secrets
    rows = [
        {
            "message": m,
            "label": label(m.template),
            "params": {**m.params, **(sms_secret_params(m) if shows_secrets else {})},
            "hidden": bool(m.secret_params) and not shows_secrets,
        }
        for m in page.object_list
    ]
    return render(request, "sms/outbox.html", {"page": page, "rows": rows, "shows_secrets": shows_secrets})
