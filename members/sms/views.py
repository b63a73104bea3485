from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from cardportal.pagination import paginate
from members.access import Cap, requires

from . import selectors
from .gateways import get_gateway
from .services import sms_secret_params
from .templates import label


@login_required
@requires(Cap.SMS_OUTBOX)  # city staff and above: the outbox names members of many unions
def outbox(request):
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
