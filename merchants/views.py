"""The public merchant directory (no login): members look merchants up on their phones (000 附件2 Q5)."""

from django.shortcuts import render
from django.utils import timezone

from cardportal.middleware import wants_fragment
from cardportal.pagination import paginate
from cardportal.params import positive_int, query_text

from . import selectors


def directory(request):
    q = query_text(request.GET.get("q"), max_length=50)
    category_id = positive_int(request.GET.get("category"))
    area_id = positive_int(request.GET.get("area"))
    merchants = selectors.directory_merchants(q=q, category_id=category_id, area_id=area_id)
    page = paginate(request, merchants, per_page=30)
    context = {
        "page": page,
        "q": q,
        "category_id": category_id,
        "area_id": area_id,
        "categories": selectors.directory_categories(),
        "areas": selectors.directory_areas(),
        "today": timezone.localdate(),
    }
    template = "merchants/_directory_results.html" if wants_fragment(request) else "merchants/directory.html"
    return render(request, template, context)
