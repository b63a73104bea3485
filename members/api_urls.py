"""The members API under /api/members/ (names in the root "api" namespace)."""

from django.urls import path

from . import api

urlpatterns = [
    path("", api.MemberListApi.as_view(), name="member-list"),
    path("search/", api.MemberSearchApi.as_view(), name="member-search"),
    path("<int:pk>/", api.MemberDetailApi.as_view(), name="member-detail"),
]
