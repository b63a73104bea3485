"""Request gates and headers that every page shares."""

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from .second_factor import has_totp, second_factor_required


class SecondFactorMiddleware:
    """A session that needs a second factor and has not given it reaches only the enrol/verify
    pages, sign-out and static files: every other page redirects there (htmx: HX-Redirect), and
    the API answers 403. Token-authenticated API calls carry no session and are not affected.

    After django_otp's OTPMiddleware, which sets request.user.is_verified()."""

    OPEN_PREFIXES = ("/static/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and not self._is_open(request.path)
            and second_factor_required(user)
        ):
            return self._refuse(request)
        return self.get_response(request)

    def _is_open(self, path: str) -> bool:
        if path.startswith(self.OPEN_PREFIXES) or path.startswith("/account/second-factor/"):
            return True
        return path in (reverse("login"), reverse("logout"))

    def _refuse(self, request):
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": "请先在网页上完成二次验证。", "code": "second_factor_required"}, status=403
            )
        name = "second_factor_verify" if has_totp(request.user) else "second_factor_enrol"
        back = request.get_full_path() if request.method == "GET" else reverse("dashboard")
        url = f"{reverse(name)}?{urlencode({'next': back})}"
        if request.headers.get("HX-Request") == "true":  # (HtmxMiddleware runs later)
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)


class PermissionsPolicyMiddleware:
    """Permissions-Policy: browser features no page of the portal uses are off for all of them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy:
            response.headers.setdefault("Permissions-Policy", policy)
        return response


class HtmxVaryMiddleware:
    """Several pages answer one URL with the whole page or, to htmx, a fragment of it. Without
    `Vary: HX-Request` a browser (or a proxy) may hand the cached fragment to a plain visit, and
    the Back button shows a bare table. So every response varies on HX-Request, and fragments are
    never stored at all (htmx keeps its own history snapshots; it does not need the HTTP cache)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        if getattr(request, "htmx", False):
            add_never_cache_headers(response)
        return response


def wants_fragment(request) -> bool:
    """True when htmx asks for the part of a page it swaps in. A history-restore request (Back to
    an address htmx pushed, with no snapshot left) needs the whole page: it replaces the body."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request
