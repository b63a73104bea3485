from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cardportal.audit import audit_for, client_ip
from cardportal.errors import ApplicationError
from cardportal.middleware import wants_fragment
from cardportal.pagination import paginate
from cardportal.registry import registry, render_panels

from . import selectors, services
from .access import Cap, access_for
from .forms import MemberSearchForm, MemberTransferForm
from .models import Union

UNION_CHOICES_MAX = 300


def _union_filter_choices(user):
    """The union filter's options: every visible union for a county or a small city; above that
    (a province holds thousands of grassroots unions) the county level and up."""
    unions = selectors.union_list_for_user(user=user)
    if unions.count() > UNION_CHOICES_MAX:
        unions = unions.exclude(level__in=[Union.Level.GRASSROOTS, Union.Level.SUB_BRANCH])
    return unions


PERSONAL_QUERY_IN_URL = (
    "按身份证号或手机号查询时，请在搜索框中输入后点“查询”：号码不放在网址里，本次未按它查询"
)
ID_LIKE_QUERY = "这不是18位身份证号（位数不对），请核对后输入完整的18位号码"


@login_required
def member_list(request):
    """The member list and its search. A search by ID number or phone arrives by POST (the page's
    form posts), so the number never reaches a URL, the access log or the browser history, and it
    is audited with the number's keyed hash. Such a query in the address is not run. Name
    searches and filters stay shareable: an htmx POST pushes their query string to the address."""
    data = request.POST if request.method == "POST" else (request.GET or None)
    form = MemberSearchForm(data, unions=_union_filter_choices(request.user))
    filters = {}
    kind = ""
    if form.is_valid():
        data = form.cleaned_data
        q = data["q"]  # add_error below takes it out of cleaned_data
        kind, _value = selectors.search_kind(q)
        if kind in selectors.PERSONAL_QUERY_KINDS and request.method != "POST":
            form.add_error("q", PERSONAL_QUERY_IN_URL)
            form.data = form.data.copy()
            form.data["q"] = ""  # not echoed back into the page either
            kind = ""
        elif kind == "id_like":
            form.add_error("q", ID_LIKE_QUERY)
        hardship = {"1": True, "0": False}.get(data["hardship"])
        filters = {
            "q": q if kind else "",
            "union_id": data["union"].pk if data["union"] else None,
            "employment_type": data["employment_type"],
            "hardship": hardship,
            "status": data["status"],
        }
    members = selectors.member_list_for_user(user=request.user, **filters)
    page = paginate(request, members)
    searched = ""
    if kind in selectors.PERSONAL_QUERY_KINDS:
        # the page does not echo the number back either: the box is emptied, a masked note stays
        searched = services.member_search_audit(
            actor=request.user,
            kind=kind,
            value=_value,
            matches=len(page.object_list),
            ip=client_ip(request),
        )
    query = _shareable_query(form, personal=kind in selectors.PERSONAL_QUERY_KINDS)
    if searched:
        form.data = form.data.copy()
        form.data["q"] = ""
    template = "members/_member_table.html" if wants_fragment(request) else "members/member_list.html"
    response = render(
        request,
        template,
        {"form": form, "page": page, "query": query.urlencode(), "searched": searched},
    )
    if request.htmx and request.method == "POST":
        # name searches and filters go into the address (back button, sharing); ID numbers and
        # phones never do
        response["HX-Push-Url"] = (
            "false" if kind in selectors.PERSONAL_QUERY_KINDS else f"?{query.urlencode()}"
        )
    return response


def _shareable_query(form, *, personal: bool) -> QueryDict:
    """The filters as a query string for the pager and the address bar: without the search text
    when it is an ID number or phone, and without the CSRF token."""
    query = QueryDict(mutable=True)
    for key in ("q", "union", "employment_type", "hardship", "status"):
        value = form.data.get(key, "") if form.data else ""
        if value and not (key == "q" and personal):
            query[key] = value
    return query


@login_required
def member_detail(request, pk):
    member = selectors.member_get_for_user(user=request.user, pk=pk)
    access = access_for(request.user)
    transfer_form = None
    if access.can(Cap.MEMBER_TRANSFER):
        transfer_form = MemberTransferForm(unions=selectors.union_list_for_user(user=request.user))
    context = {
        "member": member,
        "transfers": member.transfers.select_related("from_union", "to_union", "actor"),
        "audit": audit_for(member)[:50],
        "can_reveal": access.can(Cap.MEMBER_REVEAL_ID),
        "transfer_form": transfer_form,
        "panels": render_panels(registry.member, request, member),
    }
    return render(request, "members/member_detail.html", context)


@login_required
@require_POST
def member_reveal_id(request, pk):
    member = selectors.member_get_for_user(user=request.user, pk=pk)
    access_for(request.user).permit(Cap.MEMBER_REVEAL_ID)
    id_number = services.member_reveal_id(member=member, actor=request.user, ip=client_ip(request))
    return render(request, "members/_revealed_id.html", {"member": member, "id_number": id_number})


@login_required
@require_POST
def member_transfer(request, pk):
    member = selectors.member_get_for_user(user=request.user, pk=pk)
    access_for(request.user).permit(Cap.MEMBER_TRANSFER)
    form = MemberTransferForm(request.POST, unions=selectors.union_list_for_user(user=request.user))
    if form.is_valid():
        try:
            services.member_transfer(
                member=member,
                to_union=form.cleaned_data["to_union"],
                actor=request.user,
                note=form.cleaned_data["note"],
            )
            messages.success(request, f"已将 {member.name} 转入 {form.cleaned_data['to_union']}")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "请选择要转入的基层工会")
    return redirect(member)


@login_required
def union_list(request):
    unions = selectors.union_list_for_user(user=request.user)
    return render(request, "members/union_list.html", {"unions": unions})


@login_required
def union_detail(request, pk):
    union = selectors.union_get_for_user(user=request.user, pk=pk)
    children = union.children.order_by("code")
    return render(
        request,
        "members/union_detail.html",
        {"union": union, "children": children, "member_count": union.members.count(), "Level": Union.Level},
    )
