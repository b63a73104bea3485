"""Every app's API under /api/. Apps add their routes to their own `api_urls` module."""

from importlib import import_module

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from members import api as members_api

from .api import TokenObtainApi

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("token/", TokenObtainApi.as_view(), name="token"),
    path("members/", members_api.MemberListApi.as_view(), name="member-list"),
    path("members/search/", members_api.MemberSearchApi.as_view(), name="member-search"),
    path("members/<int:pk>/", members_api.MemberDetailApi.as_view(), name="member-detail"),
    # The members' own API (member authentication only, never staff): benefits/membersite/api.py
    path("me/", include("benefits.membersite.api_urls")),
]

for app in ("issuance", "merchants", "benefits", "quotas"):
    try:
        module = import_module(f"{app}.api_urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"{app}.api_urls":
            raise
        continue
    urlpatterns.append(path(f"{app}/", include(module)))
