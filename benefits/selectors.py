"""Reads of benefits, always scoped; and the programme counts per county for the league table."""

from datetime import date

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from members.access import get_for_user_or_404, scope_path, scope_queryset
from members.models import Member, Union

from . import eligibility
from .models import BenefitProgramme, Claim, Disbursement, DisbursementLine

COUNTY_LEVELS = (Union.Level.COUNTY, Union.Level.INDUSTRY)


def valid_programmes_q(on: date) -> Q:
    return Q(is_active=True, valid_from__lte=on) & (Q(valid_until__isnull=True) | Q(valid_until__gte=on))


def programmes_by_county(*, on: date) -> dict[int, int]:
    """County-level union id -> number of programmes available to its members on `on`.

    A programme is available to a county's members when its organiser is the county itself, one
    of its ancestors (city, province: those members are covered too), or a union inside the
    county (available to part of its members, and developed by the county: 以县总为主体).
    Every county-level union is in the result (0 when none). Two queries."""
    counties = list(Union.objects.filter(level__in=COUNTY_LEVELS).values_list("pk", "path"))
    paths = list(
        BenefitProgramme.objects.filter(valid_programmes_q(on)).values_list("union__path", flat=True)
    )
    return {
        pk: sum(1 for p in paths if county_path.startswith(p) or p.startswith(county_path))
        for pk, county_path in counties
    }


def programmes_for_member(*, member: Member, on: date | None = None) -> QuerySet[BenefitProgramme]:
    """Programmes whose organiser is the member's union or an ancestor, valid on `on`."""
    on = on or timezone.localdate()
    ancestors = [member.union.path[: i + 1] for i, ch in enumerate(member.union.path) if ch == "/"]
    return (
        BenefitProgramme.objects.filter(valid_programmes_q(on), union__path__in=ancestors)
        .select_related("union")
        .prefetch_related("tiers")
        .order_by("kind", "id")
    )


def member_eligibility(*, member: Member, on: date | None = None) -> list[eligibility.Eligibility]:
    on = on or timezone.localdate()
    card = eligibility.live_card_of(member)
    return [
        eligibility.evaluate(programme=p, member=member, on=on, card=card, tiers=list(p.tiers.all()))
        for p in programmes_for_member(member=member, on=on)
    ]


def programme_list_for_user(*, user) -> QuerySet[BenefitProgramme]:
    """Programmes a staff user works with: those run by unions above or inside their subtree."""
    path = scope_path(user)
    qs = (
        BenefitProgramme.objects.select_related("union")
        .prefetch_related("tiers")
        .order_by("union__path", "id")
    )
    if path is None:
        return qs.none()
    if path == "":
        return qs
    ancestors = [path[: i + 1] for i, ch in enumerate(path) if ch == "/"]
    return qs.filter(Q(union__path__in=ancestors) | Q(union__path__startswith=path))


def programme_get_for_user(*, user, pk) -> BenefitProgramme:
    """404 outside programme_list_for_user (which is the scoping for programmes)."""
    try:
        return programme_list_for_user(user=user).get(pk=pk)
    except (BenefitProgramme.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def claim_list_for_user(*, user, status: str = "") -> QuerySet[Claim]:
    qs = scope_queryset(Claim.objects.select_related("programme", "member", "union", "recorded_by"), user)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def claim_get_for_user(*, user, pk) -> Claim:
    return get_for_user_or_404(
        Claim.objects.select_related(
            "programme", "member", "member__union", "union", "recorded_by", "reviewed_by"
        ),
        user,
        pk=pk,
    )


def disbursement_list_for_user(*, user) -> QuerySet[Disbursement]:
    return scope_queryset(
        Disbursement.objects.select_related("union", "programme", "created_by"), user
    ).order_by("-id")


def disbursement_get_for_user(*, user, pk) -> Disbursement:
    """One batch in the user's subtree (404 outside), with its preparer's union and its approver
    (the page and the four-eyes rules read them)."""
    return get_for_user_or_404(
        Disbursement.objects.select_related("union", "programme", "created_by__staff__union", "approved_by"),
        user,
        pk=pk,
    )


def disbursement_lines(*, disbursement: Disbursement) -> QuerySet[DisbursementLine]:
    return disbursement.lines.select_related("member", "member__union").order_by("id")
