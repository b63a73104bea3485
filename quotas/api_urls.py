from django.urls import path

from . import api

urlpatterns = [
    path("league/", api.LeagueApi.as_view(), name="quotas-league"),
    path("bulletins/", api.BulletinListApi.as_view(), name="quotas-bulletin-list"),
    path("bulletins/<int:pk>/", api.BulletinDetailApi.as_view(), name="quotas-bulletin-detail"),
]
