"""One error type for failures a user can fix, mapped to HTTP at the edge."""

from django.core.exceptions import ValidationError
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A business rule refused the action. `message` is Chinese and shown to the user as is."""

    def __init__(self, message: str, *, code: str = "invalid", extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(
            {"detail": exc.message, "code": exc.code, **exc.extra}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, ValidationError):
        return Response({"detail": exc.messages, "code": "invalid"}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Throttled):
        wait = int(exc.wait) if exc.wait is not None else None
        exc.detail = f"请求过于频繁，请 {wait} 秒后再试" if wait else "请求过于频繁，请稍后再试"
    return exception_handler(exc, context)
