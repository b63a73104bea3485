from django_filters import rest_framework as filters
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination

from . import selectors
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


def _is_ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


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
        hardship = {"true": True, "1": True, "false": False, "0": False}.get(params.get("hardship", ""))
        return selectors.member_list_for_user(
            user=self.request.user,
            q=params.get("q", ""),
            # isascii(): "²".isdigit() is true and int("²") raises (a 500 the API fuzz test found)
            union_id=int(params["union"]) if _is_ascii_digits(params.get("union", "")) else None,
            employment_type=params.get("employment_type", ""),
            hardship=hardship,
            status=params.get("status", ""),
        )


class MemberDetailApi(generics.RetrieveAPIView):
    serializer_class = MemberSerializer

    def get_object(self):
        return selectors.member_get_for_user(user=self.request.user, pk=self.kwargs["pk"])
