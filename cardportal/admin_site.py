"""The admin site: django-otp's OTPAdminSite, signed in through the portal's own login.

OTPAdminSite treats a session without a verified second factor as not staff. Its own login form
asks for the password and the code at once, which leaves no way to enrol; so the admin login
sends people to the portal login (same axes throttling), whose second-factor step verifies the
session before the admin opens.
"""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite

from .redirects import safe_next


class PortalAdminSite(OTPAdminSite):
    def __init__(self, name="admin"):
        super().__init__(name)

    def login(self, request, extra_context=None):
        target = safe_next(request, reverse("admin:index", current_app=self.name), field="next")
        if request.user.is_authenticated:
            # Signed in but not verified (or not staff): the second-factor step decides.
            return redirect(target)
        return redirect_to_login(target)
