from django.urls import path

from . import api

urlpatterns = [
    path("", api.MerchantListApi.as_view(), name="merchant-list"),
    path("<int:pk>/", api.MerchantDetailApi.as_view(), name="merchant-detail"),
    path("categories/", api.CategoryListApi.as_view(), name="merchant-category-list"),
]
