"""`next` parameters: only paths on this site are followed, anything else is dropped."""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, default: str, *, field: str = "next") -> str:
    """The `next` value from POST (then GET) when it points into this site, else `default`.

    `https://evil.example/`, `//evil.example/`, `javascript:` and hosts outside ALLOWED_HOSTS
    all fall back to `default`, so a link someone else crafted cannot send a user off-site."""
    candidate = request.POST.get(field) or request.GET.get(field) or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
