from django.urls import path

from . import views

app_name = "benefits"

urlpatterns = [
    path("programmes/", views.programme_list, name="programme_list"),
    path("programmes/<int:pk>/", views.programme_detail, name="programme_detail"),
    path("members/<int:member_pk>/claim/", views.claim_create, name="claim_create"),
    path("claims/", views.claim_list, name="claim_list"),
    path("claims/<int:pk>/", views.claim_detail, name="claim_detail"),
    path("claims/<int:pk>/proofs/<int:proof_pk>/", views.claim_proof, name="claim_proof"),
    path("disbursements/", views.disbursement_list, name="disbursement_list"),
    path("disbursements/<int:pk>/", views.disbursement_detail, name="disbursement_detail"),
    path("disbursements/<int:pk>/progress/", views.disbursement_progress, name="disbursement_progress"),
    path(
        "disbursements/<int:pk>/<slug:action>/",
        views.disbursement_action,
        name="disbursement_action",
    ),
    path(
        "disbursements/<int:pk>/download/<slug:what>/",
        views.disbursement_download,
        name="disbursement_download",
    ),
]
