from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="member_list"),
    path("<int:pk>/", views.member_detail, name="member_detail"),
    path("<int:pk>/reveal-id/", views.member_reveal_id, name="member_reveal_id"),
    path("<int:pk>/transfer/", views.member_transfer, name="member_transfer"),
    path("unions/", views.union_list, name="union_list"),
    path("unions/<int:pk>/", views.union_detail, name="union_detail"),
]
