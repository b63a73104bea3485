"""The body every "press a button, call one service, go back" view shares.

A page's POST calls one service. A refusal the user can act on (`ApplicationError`) is shown as
an error message on the page they came from; a refusal for lack of the capability
(code "forbidden", raised by `Access.require` in the service) is a 403, the same answer the page
gives when the user opens it without the capability. The view asks nothing itself: the service
enforces who may.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect

from .downloads import attachment
from .errors import ApplicationError


def attempt(request, call: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, call()) or, after showing the refusal, (False, None); "forbidden" is a 403."""
    try:
        return True, call()
    except ApplicationError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
        return False, None


def run_action(request, call: Callable[[], Any], *, done: str, back) -> HttpResponse:
    """Run `call()`, flash `done` unless it returned False (nothing to do), redirect to `back`
    (a model with get_absolute_url, a URL or a URL name)."""
    ok, result = attempt(request, call)
    if ok and result is not False:
        messages.success(request, done)
    return redirect(back)


def run_download(request, call: Callable[[], tuple[bytes | str, str]], *, back) -> HttpResponse:
    """`call()` returns (content, file name) of an audited download: the attachment, or back to
    `back` with the refusal shown."""
    ok, result = attempt(request, call)
    return attachment(*result) if ok else redirect(back)
