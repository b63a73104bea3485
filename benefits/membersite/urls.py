from django.urls import path

from . import profile_views, views

app_name = "membersite"

urlpatterns = [
    path("", views.me_home, name="home"),
    path("login/", views.signin, name="login"),
    path("login/code/", views.signin_code, name="signin_code"),
    path("logout/", views.signout, name="logout"),
    path("cards/<int:pk>/", views.me_card, name="card"),
    path("cards/<int:pk>/lost/", views.me_card_lost, name="card_lost"),
    path("profile/", profile_views.me_profile, name="profile"),
    path("profile/phone/", profile_views.me_phone, name="phone"),
    path("profile/phone/code/", profile_views.me_phone_code, name="phone_code"),
    path("profile/consent/", profile_views.me_consent, name="consent"),
    path("profile/correction/", profile_views.me_correction, name="correction"),
    path("notices/", profile_views.me_notices, name="notices"),
]

urlpatterns += [
    path("benefits/", views.me_benefits, name="benefits"),
    path("benefits/<int:programme_pk>/claim/", views.me_claim_new, name="claim_new"),
    path("claims/<int:pk>/", views.me_claim, name="claim"),
    path("claims/<int:pk>/proofs/<int:proof_pk>/", views.me_claim_proof, name="claim_proof"),
    path("aid/", views.me_aid, name="aid"),
    path("merchants/", views.me_merchants, name="merchants"),
    path("merchants/<int:pk>/review/", views.me_merchant_review, name="merchant_review"),
]
