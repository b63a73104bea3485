"""The API's token check (kept apart from cardportal.api_tokens: DRF imports it while it loads)."""

from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from .scoping import can


class PartnerTokenAuthentication(TokenAuthentication):
    """knox's token check (digest compare, expiry) plus: the account still holds a partner role,
    so a bank account moved to another role stops working at once."""

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        if not can(user, "api.token"):
            raise exceptions.AuthenticationFailed(_("该账号已不是合作机构经办账号，令牌不再有效"))
        return user, token
