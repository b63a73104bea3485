from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from cardportal.audit import client_ip
from cardportal.params import positive_int

from . import selectors, services
from .models import Member


class MemberSerializer(serializers.ModelSerializer):
    id_number = serializers.CharField(source="masked_id", read_only=True, help_text="脱敏身份证号")
    phone = serializers.CharField(source="masked_phone", read_only=True, help_text="脱敏手机号")
    union_code = serializers.CharField(source="union.code", read_only=True)
    union_name = serializers.CharField(source="union.name", read_only=True)

    class Meta:
        model = Member
        fields = [
            "id",
            "name",
            "id_number",
            "gender",
            "birth_date",
            "phone",
            "work_unit",
            "union_code",
            "union_name",
            "employment_type",
            "is_hardship",
            "is_model_worker",
            "dues_paid",
            "status",
            "joined_on",
        ]


class MemberFilter(filters.FilterSet):
    q = filters.CharFilter(method="noop", label="姓名前缀、完整身份证号或手机号")
    union = filters.NumberFilter(method="noop", label="工会（含下级）")
    hardship = filters.BooleanFilter(method="noop")

    class Meta:
        model = Member
        fields = ["employment_type", "status"]

    def noop(self, queryset, name, value):
        return queryset  # applied by the selector, which owns the search rules


class NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 50


class MemberListApi(generics.ListAPIView):
    """Members visible to the caller (their union subtree); ID numbers and phones masked."""

    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    pagination_class = NewestFirst

    def get_queryset(self):
        params = self.request.query_params
        if selectors.search_kind(params.get("q", ""))[0] in selectors.PERSONAL_QUERY_KINDS:
            # the number is already in this request's URL; at least it is not searched for, so
            # clients learn to use the POST endpoint
            raise serializers.ValidationError({"q": [PERSONAL_QUERY_IN_URL]})
        return _members(self.request.user, params)


PERSONAL_QUERY_IN_URL = (
    "按身份证号或手机号查询请用 POST /api/members/search/（号码放在请求体里，不放在网址里）"
)


def _members(user, params):
    hardship = {"true": True, "1": True, "false": False, "0": False}.get(
        str(params.get("hardship", "")).lower()
    )
    return selectors.member_list_for_user(
        user=user,
        q=str(params.get("q", "")),
        union_id=positive_int(params.get("union")),
        employment_type=str(params.get("employment_type", "")),
        hardship=hardship,
        status=str(params.get("status", "")),
    )


class MemberSearchSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100, help_text="完整身份证号、手机号或姓名前缀")
    union = serializers.IntegerField(required=False, help_text="工会（含下级）")
    employment_type = serializers.CharField(required=False, allow_blank=True)
    hardship = serializers.BooleanField(required=False, allow_null=True, default=None)
    status = serializers.CharField(required=False, allow_blank=True)


class MemberSearchApi(generics.GenericAPIView):
    """Search by ID number or phone (or name) with the query in the request body, so the number
    is not in a URL or an access log. ID and phone searches are audited with the number's keyed
    hash. At most 50 members, newest first; ID numbers and phones masked."""

    serializer_class = MemberSearchSerializer
    queryset = Member.objects.none()  # the selector scopes the real one; this names the model
    pagination_class = None
    LIMIT = 50

    @extend_schema(
        request=MemberSearchSerializer,
        responses=inline_serializer("MemberSearchResults", {"results": MemberSerializer(many=True)}),
    )
    def post(self, request):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        members = list(_members(request.user, data)[: self.LIMIT])
        kind, value = selectors.search_kind(data["q"])
        if kind in selectors.PERSONAL_QUERY_KINDS:
            services.member_search_audit(
                actor=request.user, kind=kind, value=value, matches=len(members), ip=client_ip(request)
            )
        return Response({"results": MemberSerializer(members, many=True).data})


class MemberDetailApi(generics.RetrieveAPIView):
    serializer_class = MemberSerializer

    def get_object(self):
        return selectors.member_get_for_user(user=self.request.user, pk=self.kwargs["pk"])
