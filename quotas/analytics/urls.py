from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "analytics"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="analytics:active"), name="index"),
    path("active/", views.active, name="active"),
    path("spending/", views.spending, name="spending"),
    path("merchants/", views.merchants, name="merchants"),
    path("uptake/", views.uptake, name="uptake"),
    path("<str:page>/export.xlsx", views.export, name="export"),
    path("segments/", views.segments, name="segments"),
    path("segments/<slug:slug>/", views.segment, name="segment"),
    path("segments/<slug:slug>/export.xlsx", views.segment_export, name="segment_export"),
    path("segments/<slug:slug>/notify/", views.segment_notify, name="segment_notify"),
]
