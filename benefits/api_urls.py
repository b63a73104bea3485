from django.urls import path

from . import api

urlpatterns = [
    path("programmes/", api.ProgrammeListApi.as_view(), name="programme-list"),
    path("members/<int:pk>/eligibility/", api.MemberEligibilityApi.as_view(), name="member-eligibility"),
]
