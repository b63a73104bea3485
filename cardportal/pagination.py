"""Pagination that never counts 1.5 million rows: the count stops at COUNT_CAP."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        # SELECT COUNT(*) FROM (... LIMIT cap+1): bounded work whatever the table size. Without
        # the ORDER BY, which would make PostgreSQL sort the whole scope before limiting.
        return self.object_list.order_by()[: COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP


def paginate(request, queryset, *, per_page: int = 50):
    paginator = CappedPaginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))
