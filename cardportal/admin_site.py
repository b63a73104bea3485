"""The admin site: django-otp's OTPAdminSite, signed in through the portal's own login.

OTPAdminSite treats a session without a verified second factor as not staff. Its own login form
asks for the password and the code at once, which leaves no way to enrol; so the admin login
sends people to the portal login (same axes throttling), whose second-factor step verifies the
session before the admin opens.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models.base import ModelBase
from django.urls import reverse
from django_otp.admin import OTPAdminSite

from .redirects import safe_next

# django-otp's device admins would show every user's TOTP secret (and QR code) and unused
# recovery codes to whoever may open them; devices are reset through the audited reset page.
HIDDEN_MODELS = frozenset({"otp_totp.totpdevice", "otp_static.staticdevice"})


class PortalAdminSite(OTPAdminSite):
    def __init__(self, name="admin"):
        super().__init__(name)

    def register(self, model_or_iterable, admin_class=None, **options):
        models = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else list(model_or_iterable)
        models = [model for model in models if model._meta.label_lower not in HIDDEN_MODELS]
        if models:
            super().register(models, admin_class, **options)

    def login(self, request, extra_context=None):
        target = safe_next(request, reverse("admin:index", current_app=self.name), field="next")
        if request.user.is_authenticated:
            # Unverified sessions never get here (SecondFactorMiddleware sends them to the code
            # step); a verified one that is still refused is not admin staff.
            raise PermissionDenied("您的账号无权使用管理后台。")
        return redirect_to_login(target)
