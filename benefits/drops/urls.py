from django.urls import path

from . import views

app_name = "drops"

urlpatterns = [
    path("", views.drop_list, name="list"),
    path("new/", views.drop_create, name="create"),
    path("redeem/", views.redeem, name="redeem"),
    path("venue/<str:token>/", views.venue, name="venue"),
    path("<int:pk>/", views.drop_detail, name="detail"),
    path("<int:pk>/edit/", views.drop_edit, name="edit"),
    path("<int:pk>/close/", views.drop_close, name="close"),
    path("<int:pk>/reconcile/", views.drop_reconcile, name="reconcile"),
    path("<int:pk>/export/", views.drop_export, name="export"),
    path("<int:pk>/picture/", views.picture, name="picture"),
]
