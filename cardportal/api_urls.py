"""Every app's API under /api/. Apps add their routes to their own `api_urls` module."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .api import TokenObtainApi
from .registry import app_modules

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("token/", TokenObtainApi.as_view(), name="token"),
    path("members/", include("members.api_urls")),
    # The members' own API (member authentication only, never staff): benefits/membersite/api.py
    path("me/", include("benefits.membersite.api_urls")),
]

for app, module in app_modules("api_urls"):
    urlpatterns.append(path(f"{app}/", include(module)))
