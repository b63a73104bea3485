from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "quotas"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="quotas:league"), name="index"),
    path("league/", views.league, name="league"),
    path("league/export.xlsx", views.league_export, name="league_export"),
    path("league/counties/<int:pk>/", views.league_county, name="league_county"),
    path("bulletins/", views.bulletin_list, name="bulletin_list"),
    path("bulletins/draft/", views.bulletin_draft, name="bulletin_draft"),
    path("bulletins/<int:pk>/", views.bulletin_detail, name="bulletin_detail"),
    path("bulletins/<int:pk>/publish/", views.bulletin_publish, name="bulletin_publish"),
    path("bulletins/<int:pk>/download.xlsx", views.bulletin_download, name="bulletin_download"),
    path("quarterly/", views.quarterly, name="quarterly"),
    path("checkpoints/", views.checkpoints, name="checkpoints"),
    path("weekly/", views.weekly, name="weekly"),
    path("weekly/<int:team_pk>/<str:week>/", views.weekly_save, name="weekly_save"),
    path("assessment/", views.assessment, name="assessment"),
    path("assessment/<int:year>/signoff/", views.assessment_signoff, name="assessment_signoff"),
    path("assessment/<int:year>/<int:pk>/", views.assessment_input, name="assessment_input"),
]
