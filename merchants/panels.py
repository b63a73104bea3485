"""Dashboard panel: the merchants of the user's subtree, and which need attention."""

from django.db.models import Count, Q

from members.access import access_for

from . import selectors
from .models import Merchant


def merchants_overview(request, _obj):
    if not access_for(request.user).is_staff_user:
        return None
    counts = selectors.merchant_list_for_user(user=request.user).aggregate(
        active=Count("id", filter=Q(status=Merchant.Status.ACTIVE)),
        exit=Count("id", filter=Q(flag=Merchant.Flag.EXIT) & ~Q(status=Merchant.Status.EXITED)),
        promote=Count("id", filter=Q(flag=Merchant.Flag.PROMOTE) & Q(status=Merchant.Status.ACTIVE)),
        no_sign=Count("id", filter=Q(status=Merchant.Status.ACTIVE, signage_issued=False)),
    )
    return {"title": "特约商户", **counts}
