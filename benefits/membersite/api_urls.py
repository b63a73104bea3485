"""The member API under /api/me/ (member authentication only: see api_auth.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("signin/code/", api.MemberSigninCodeApi.as_view(), name="me-signin-code"),
    path("signin/token/", api.MemberSigninTokenApi.as_view(), name="me-signin-token"),
    path("signout/", api.MemberSignoutApi.as_view(), name="me-signout"),
    path("", api.MemberProfileApi.as_view(), name="me-profile"),
    path("cards/", api.MemberCardListApi.as_view(), name="me-cards"),
    path("benefits/", api.MemberBenefitListApi.as_view(), name="me-benefits"),
    path("claims/", api.MemberClaimListApi.as_view(), name="me-claims"),
    path("funds/", api.MemberFundListApi.as_view(), name="me-funds"),
    path("notices/", api.MemberNoticeListApi.as_view(), name="me-notices"),
]
