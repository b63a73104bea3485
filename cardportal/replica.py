"""Heavy reads on a streaming read replica, everything else on the primary.

When `DATABASE_REPLICA_URL` is set, settings add a database alias "replica" and these rules hold:

* Reads go to the replica only inside `replica_reads` (a view decorator and a context manager),
  which marks the pages that read a lot and need no up-to-the-millisecond figures: league tables,
  county drill-downs, rankings, the dashboard, progress reports and exports. Every other read,
  and every write, goes to the primary.
* Never inside a transaction on the primary: a service that wrote and reads back in one
  transaction reads its own rows.
* Never right after a write by the same browser: `ReplicaPinMiddleware` answers every unsafe
  request (POST, PUT, PATCH, DELETE) with a short-lived cookie, and while it lives the browser's
  requests read the primary. So the page a form redirects to shows what the form just did, even
  when the replica is a moment behind. `REPLICA_PIN_SECONDS` (default 15) must exceed the
  replica's usual lag; the cookie says nothing about the user and only moves their reads.
* A decorated view answering POST reads the primary too (only GET and HEAD use the replica).

* A replica that is down (refuses connections, or fails a query mid-page) does not take the pages
  with it: the page is read again from the primary, the failure is logged once, and the replica
  is left alone for `REPLICA_RETRY_SECONDS` (default 30) before this process tries it again.

Without `DATABASE_REPLICA_URL` (the default) nothing changes: the router answers nothing and the
middleware sets no cookie. See docs/operations.md, "Read replica".
"""

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
PIN_COOKIE = "cp_primary"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

_heavy: ContextVar[bool] = ContextVar("replica_reads", default=False)
_pinned: ContextVar[bool] = ContextVar("replica_pinned", default=False)


_resting_until = 0.0  # this process leaves a failed replica alone until then (monotonic clock)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_usable() -> bool:
    """The replica is configured and answers; a failure rests it for REPLICA_RETRY_SECONDS."""
    if not replica_configured() or time.monotonic() < _resting_until:
        return False
    try:
        connections[REPLICA].ensure_connection()
    except (OperationalError, InterfaceError) as exc:
        replica_failed(exc)
        return False
    return True


def _alive(connection) -> bool:
    return connection.connection is not None and connection.is_usable()


def replica_failed(exc: Exception) -> None:
    """Rest the replica after a failure: close the broken connection, read the primary meanwhile."""
    global _resting_until
    _resting_until = time.monotonic() + getattr(settings, "REPLICA_RETRY_SECONDS", 30)
    logger.warning("read replica unavailable, reading the primary: %s", type(exc).__name__)
    with suppress(OperationalError, InterfaceError):
        connections[REPLICA].close()


@contextmanager
def reading_replica():
    """Reads inside go to the replica (when there is one and the request is not pinned)."""
    token = _heavy.set(True)
    try:
        yield
    finally:
        _heavy.reset(token)


def replica_reads(view: Callable) -> Callable:
    """A view whose GET/HEAD reads may come from the replica. Put it under @login_required, so
    the session and the user are still read from the primary."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD") or not replica_usable():
            return view(request, *args, **kwargs)
        try:
            with reading_replica():
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()  # a lazy TemplateResponse runs its queries here, not later
        except (OperationalError, InterfaceError) as exc:
            if _alive(connections[REPLICA]):
                raise  # the replica is fine: the failure is the primary's or the page's own
            replica_failed(exc)
            return view(request, *args, **kwargs)  # GET and HEAD only: safe to run again
        return response

    return wrapped


class ReplicaRouter:
    """The database router (settings.DATABASE_ROUTERS). Writes and migrations: the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        if not replica_configured():
            return None
        if _heavy.get() and not _pinned.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS if replica_configured() else None

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The replica holds the primary's rows: an object read there may point at one read here.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None


class ReplicaPinMiddleware:
    """Pins a browser to the primary for REPLICA_PIN_SECONDS after each unsafe request it makes
    (read-your-own-writes); does nothing when no replica is configured."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured():
            return self.get_response(request)
        token = _pinned.set(request.COOKIES.get(PIN_COOKIE) == "1")
        try:
            response = self.get_response(request)
        finally:
            _pinned.reset(token)
        if request.method not in SAFE_METHODS:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.REPLICA_PIN_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
