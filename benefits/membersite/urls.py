from django.urls import path

from . import views

app_name = "membersite"

urlpatterns = [
    path("", views.me_home, name="home"),
    path("login/", views.signin, name="login"),
    path("login/code/", views.signin_code, name="signin_code"),
    path("logout/", views.signout, name="logout"),
    path("cards/<int:pk>/", views.me_card, name="card"),
    path("cards/<int:pk>/lost/", views.me_card_lost, name="card_lost"),
    path("profile/", views.me_profile, name="profile"),
]
