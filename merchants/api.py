"""Public read API of the directory: anyone may read active merchants and their current offers."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny

from cardportal.params import positive_int

from . import selectors
from .models import Merchant, MerchantCategory, Offer


class OfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = ["id", "description", "terms", "valid_from", "valid_until", "audience"]


class MerchantSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", read_only=True)
    area = serializers.CharField(source="union.name", read_only=True)
    area_id = serializers.IntegerField(source="union_id", read_only=True)
    offers = OfferSerializer(source="valid_offers", many=True, read_only=True)
    recommended = serializers.SerializerMethodField()

    class Meta:
        model = Merchant
        fields = [
            "id",
            "name",
            "category",
            "area",
            "area_id",
            "address",
            "contact_phone",
            "recommended",
            "offers",
        ]

    def get_recommended(self, obj) -> bool:
        return obj.flag == Merchant.Flag.PROMOTE


class ByName(CursorPagination):
    ordering = ("category__order", "name", "id")
    page_size = 50


def _text(value: str) -> str:
    # PostgreSQL cannot hold NUL in text: a query with one was a 500 (found by the API fuzz test)
    if "\x00" in value:
        raise ValidationError({"q": "查询内容含有不可见的控制字符，请重新输入"})
    return value[:50]


class MerchantListApi(generics.ListAPIView):
    """Active merchants with the offers valid today. Filters: q (name or offer), category (id), area (union id)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = MerchantSerializer
    pagination_class = ByName
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="商户名称或优惠内容（最多 50 字）"),
            OpenApiParameter("category", int, description="类别编号"),
            OpenApiParameter("area", int, description="地区（工会）编号"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.directory_merchants(
            q=_text(params.get("q", "")),
            category_id=positive_int(params.get("category")),
            area_id=positive_int(params.get("area")),
        )


class MerchantDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = MerchantSerializer

    def get_object(self):
        try:
            return selectors.directory_merchants().get(pk=self.kwargs["pk"])
        except Merchant.DoesNotExist as exc:  # exited/suspended merchants are not public
            raise Http404 from exc


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = MerchantCategory
        fields = ["id", "name"]


class CategoryListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = CategorySerializer
    pagination_class = None
    queryset = MerchantCategory.objects.all()
