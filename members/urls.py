from django.urls import path

from . import correction_views, sheet_views, views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="member_list"),
    path("<int:pk>/", views.member_detail, name="member_detail"),
    path("<int:pk>/reveal-id/", views.member_reveal_id, name="member_reveal_id"),
    path("<int:pk>/transfer/", views.member_transfer, name="member_transfer"),
    path("corrections/", correction_views.correction_list, name="correction_list"),
    path("corrections/<int:pk>/", correction_views.correction_detail, name="correction_detail"),
    path("corrections/<int:pk>/handle/", correction_views.correction_handle, name="correction_handle"),
    path("unions/", views.union_list, name="union_list"),
    path("unions/<int:pk>/", views.union_detail, name="union_detail"),
]

urlpatterns += [
    path("sheets/", sheet_views.sheet_list, name="sheet_list"),
    path("sheets/template.xlsx", sheet_views.sheet_template, name="sheet_template"),
    path("sheets/upload/", sheet_views.sheet_upload, name="sheet_upload"),
    path("sheets/review/", sheet_views.sheet_review_list, name="sheet_review_list"),
    path("sheets/groups/", sheet_views.submission_groups, name="submission_groups"),
    path(
        "sheets/groups/<int:pk>/units/<int:union_pk>/<str:item>/",
        sheet_views.submission_delivery,
        name="submission_delivery",
    ),
    path("sheets/<int:pk>/", sheet_views.sheet_detail, name="sheet_detail"),
    path("sheets/<int:pk>/letter/", sheet_views.sheet_letter, name="sheet_letter"),
    path("sheets/<int:pk>/letter-scan/", sheet_views.sheet_letter_scan, name="sheet_letter_scan"),
    path(
        "sheets/<int:pk>/letter-scan/upload/",
        sheet_views.sheet_letter_scan_upload,
        name="sheet_letter_scan_upload",
    ),
    path("sheets/<int:pk>/progress/", sheet_views.sheet_progress, name="sheet_progress"),
    path("sheets/<int:pk>/errors.xlsx", sheet_views.sheet_error_report, name="sheet_error_report"),
    path("sheets/<int:pk>/retry/", sheet_views.sheet_retry, name="sheet_retry"),
    path("sheets/<int:pk>/register-retry/", sheet_views.sheet_register_retry, name="sheet_register_retry"),
    path("sheets/<int:pk>/submit/", sheet_views.sheet_submit, name="sheet_submit"),
    path("sheets/<int:pk>/approve/", sheet_views.sheet_approve, name="sheet_approve"),
    path("sheets/<int:pk>/return/", sheet_views.sheet_return, name="sheet_return"),
]
