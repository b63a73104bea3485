"""API: the live league table and the bulletins, scoped like the pages."""

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from members.access import Cap, api_permissions

from . import selectors
from .models import Bulletin, BulletinRow

LEAGUE_READERS = api_permissions(Cap.LEAGUE_READ, "无权查看进度排名")


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

    permission_classes = LEAGUE_READERS

    @extend_schema(
        operation_id="quotas_league",
        parameters=[OpenApiParameter("month", str, description="YYYY-MM; default: this month")],
        responses=inline_serializer(
            "LeagueTable", {"month": serializers.CharField(), "rows": LeagueRowSerializer(many=True)}
        ),
    )
    def get(self, request):
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

    permission_classes = LEAGUE_READERS

    @extend_schema(operation_id="quotas_bulletins_list", responses=BulletinSerializer(many=True))
    def get(self, request):
        qs = selectors.bulletin_list_for_user(user=request.user)
        return Response(BulletinSerializer(qs, many=True).data)


class BulletinDetailApi(APIView):
    """GET /api/quotas/bulletins/<id>/ — one bulletin with the rows the user may see."""

    permission_classes = LEAGUE_READERS

    @extend_schema(operation_id="quotas_bulletins_retrieve", responses=BulletinDetailSerializer)
    def get(self, request, pk: int):
        bulletin = selectors.bulletin_get_for_user(user=request.user, pk=pk)
        rows = selectors.bulletin_rows_for_user(user=request.user, bulletin=bulletin)
        return Response(
            {**BulletinSerializer(bulletin).data, "rows": BulletinRowSerializer(rows, many=True).data}
        )
