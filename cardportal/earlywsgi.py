"""A few hot endpoints served in front of Django (settings.WSGI_EARLY_ROUTES).

Each route is (method, path regex, dotted path of a WSGI callable that takes the regex's named
groups as keyword arguments). A matching request never enters Django's handler or middleware:
the endpoint answers for its own security (docs/drops.md: the lean claim path's token, origin
check and headers). Everything else goes to Django unchanged. Routes are named by dotted path
(like ROOT_URLCONF), so cardportal imports no app."""

import re

from django.conf import settings
from django.utils.module_loading import import_string


class EarlyRoutes:
    def __init__(self, app, routes=None):
        self.app = app
        self.routes = [
            (method, re.compile(pattern), import_string(target))
            for method, pattern, target in (settings.WSGI_EARLY_ROUTES if routes is None else routes)
        ]

    def __call__(self, environ, start_response):
        if self.routes:
            method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
            for route_method, pattern, handler in self.routes:
                if method == route_method:
                    found = pattern.fullmatch(path)
                    if found:
                        return handler(environ, start_response, **found.groupdict())
        return self.app(environ, start_response)
