from django.urls import path

from . import api

urlpatterns = [
    path("batches/", api.BatchListApi.as_view(), name="issuance-batch-list"),
    path("batches/<int:pk>/", api.BatchDetailApi.as_view(), name="issuance-batch-detail"),
    path("batches/<int:pk>/handoff/", api.BatchHandoffApi.as_view(), name="issuance-batch-handoff"),
    path("batches/<int:pk>/return/", api.BatchReturnApi.as_view(), name="issuance-batch-return"),
    path("activations/", api.ActivationApi.as_view(), name="issuance-activation"),
    path("imports/<int:pk>/", api.ImportDetailApi.as_view(), name="issuance-import-detail"),
]
