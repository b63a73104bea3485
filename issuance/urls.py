from django.urls import path

from . import functions, views

app_name = "issuance"

urlpatterns = [
    path("", views.home, name="home"),
    path("batches/", views.batch_list, name="batch_list"),
    path("batches/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/progress/", views.batch_progress, name="batch_progress"),
    path("batches/<int:pk>/handoff/", views.batch_handoff, name="batch_handoff"),
    path("batches/<int:pk>/handoff/retry/", views.batch_handoff_retry, name="batch_handoff_retry"),
    path("batches/<int:pk>/manifest/", views.batch_manifest, name="batch_manifest"),
    path("batches/<int:pk>/paperwork/", views.batch_paperwork, name="batch_paperwork"),
    path("batches/<int:pk>/return/", views.batch_return_upload, name="batch_return_upload"),
    path(
        "batches/<int:pk>/functions/<int:partner_pk>/handoff/",
        functions.function_handoff,
        name="function_handoff",
    ),
    path(
        "batches/<int:pk>/functions/<int:partner_pk>/return/",
        functions.function_return_upload,
        name="function_return_upload",
    ),
    path("batches/<int:pk>/requeue/", views.batch_requeue, name="batch_requeue"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/retry/", views.import_retry, name="import_retry"),
    path("imports/<int:pk>/report.xlsx", views.import_report_xlsx, name="import_report_xlsx"),
    path("activation/", views.activation_upload, name="activation_upload"),
    path("unions/<int:pk>/", views.union_cards, name="union_cards"),
    path("unions/<int:pk>/receive/", views.union_receive, name="union_receive"),
    path("unions/<int:pk>/distribute/", views.union_distribute, name="union_distribute"),
    path("unions/<int:pk>/activate/", views.union_activate, name="union_activate"),
    path("unions/<int:pk>/distribution-sheet/", views.distribution_sheet, name="distribution_sheet"),
    path("notices/<int:pk>/ack/", views.notice_ack, name="notice_ack"),
    path("cards/<int:pk>/lost/", views.card_lost, name="card_lost"),
    path("cards/<int:pk>/cancel/", views.card_cancel, name="card_cancel"),
    path("waves/", views.wave_list, name="wave_list"),
    path("waves/<int:pk>/", views.wave_detail, name="wave_detail"),
    path("progress/", views.progress, name="progress"),
    path("hardship/", views.hardship_report, name="hardship"),
]
