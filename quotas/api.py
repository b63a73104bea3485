"""API: the live league table and the bulletins, scoped like the pages."""

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from cardportal.scoping import staff_of

from . import selectors
from .models import Bulletin, BulletinRow
from .views import READER_ROLES


def _check_reader(request) -> None:
    staff = staff_of(request.user)
    if not (request.user.is_superuser or (staff is not None and staff.role in READER_ROLES)):
        raise PermissionDenied("无权查看进度排名")


class LeagueRowSerializer(serializers.Serializer):
    union_id = serializers.IntegerField(source="union.pk")
    union = serializers.CharField(source="union.name")
    members = serializers.IntegerField()
    registered = serializers.IntegerField()
    target = serializers.IntegerField(allow_null=True)
    issued = serializers.IntegerField()
    completion = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    distributed = serializers.IntegerField()
    activated = serializers.IntegerField()
    activation_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    service_items = serializers.IntegerField()
    rank = serializers.IntegerField(allow_null=True)
    rank_change = serializers.IntegerField(allow_null=True)


class LeagueApi(APIView):
    """GET /api/quotas/league/?month=YYYY-MM — every visible county's cumulative figures."""

    @extend_schema(
        operation_id="quotas_league",
        parameters=[OpenApiParameter("month", str, description="YYYY-MM; default: this month")],
        responses=inline_serializer(
            "LeagueTable", {"month": serializers.CharField(), "rows": LeagueRowSerializer(many=True)}
        ),
    )
    def get(self, request):
        _check_reader(request)
        raw = request.query_params.get("month", "")
        try:
            year, month = (int(p) for p in raw.split("-"))
            month_date = date(year, month, 1)
        except (ValueError, OverflowError):  # "99999999999-1": date() overflows rather than refuses
            month_date = selectors.default_month()
        table = selectors.league_table(user=request.user, month=month_date)
        return Response(
            {"month": month_date.strftime("%Y-%m"), "rows": LeagueRowSerializer(table.rows, many=True).data}
        )


class BulletinRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = BulletinRow
        exclude = ["id", "bulletin"]


class BulletinSerializer(serializers.ModelSerializer):
    class Meta:
        model = Bulletin
        fields = ["id", "month", "status", "drafted_at", "published_at", "note"]


class BulletinDetailSerializer(BulletinSerializer):
    rows = BulletinRowSerializer(many=True)

    class Meta(BulletinSerializer.Meta):
        fields = [*BulletinSerializer.Meta.fields, "rows"]


class BulletinListApi(APIView):
    """GET /api/quotas/bulletins/ — published bulletins (city staff also see drafts)."""

    @extend_schema(operation_id="quotas_bulletins_list", responses=BulletinSerializer(many=True))
    def get(self, request):
        _check_reader(request)
        staff = staff_of(request.user)
        qs = Bulletin.objects.order_by("-month")
        if not (request.user.is_superuser or (staff and staff.is_federation)):
            qs = qs.filter(status=Bulletin.Status.PUBLISHED)
        return Response(BulletinSerializer(qs, many=True).data)


class BulletinDetailApi(APIView):
    """GET /api/quotas/bulletins/<id>/ — one bulletin with the rows the user may see."""

    @extend_schema(operation_id="quotas_bulletins_retrieve", responses=BulletinDetailSerializer)
    def get(self, request, pk: int):
        _check_reader(request)
        staff = staff_of(request.user)
        try:
            bulletin = Bulletin.objects.get(pk=pk)
        except Bulletin.DoesNotExist as exc:
            raise NotFound from exc
        if not bulletin.is_published and not (request.user.is_superuser or (staff and staff.is_federation)):
            raise NotFound
        rows = [
            r for r in bulletin.rows.select_related("union") if selectors.visible_to(request.user, r.union)
        ]
        return Response(
            {**BulletinSerializer(bulletin).data, "rows": BulletinRowSerializer(rows, many=True).data}
        )
