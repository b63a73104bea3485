from django.urls import path

from . import views

app_name = "subsidies"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/batch/", views.campaign_batch, name="batch"),
    path("<int:pk>/toggle/", views.campaign_toggle, name="toggle"),
]
