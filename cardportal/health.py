"""Liveness and readiness (django-health-check; docs/operations.md, "Health, logs and metrics").

/health/live/   the process answers: no database, no Redis. A failure means restart this process.
/health/ready/  the portal can serve: the database answers, every migration is applied, Redis
                answers, and a Celery worker answers a ping on each queue (CELERY_QUEUES). A
                failure means send it no traffic yet (a deploy whose migration Job has not run,
                a queue without a worker, Redis down). In the embedded mode (no REDIS_URL) only the
                database and the migrations are checked.
/health/ready/web/  the same without the workers: the web pods' readiness probe.
"""

import asyncio
import dataclasses
import datetime
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis as RedisCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class MigrationsApplied(HealthCheck):
    """Every migration of the code this process runs is applied to the database."""

    def run(self):
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise ServiceUnavailable(f"{len(pending)} migrations not applied")


class _Anonymous:
    """A check named without its server's address or the app's id: the probes answer anyone."""

    name = ""

    def __repr__(self):
        return f"{self.name}()"

    @property
    def labels(self):
        return {"check": self.name}


class Redis(_Anonymous, RedisCheck):
    name = "Redis"


class CeleryPing(_Anonymous, Ping):
    """A worker answers on every queue of CELERY_TASK_QUEUES (django-health-check's ping)."""

    name = "CeleryPing"


def _redis_client():
    from redis.asyncio import Redis

    return Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def readiness_checks(*, workers: bool) -> list:
    checks: list = ["health_check.checks.Database", (MigrationsApplied, {})]
    if settings.REDIS_URL:
        checks.append(("health_check.contrib.redis.Redis", {"client_factory": _redis_client}))
        if workers:
            timeout = datetime.timedelta(seconds=settings.HEALTH_CELERY_PING_SECONDS)
            checks.append((CeleryPing, {"timeout": timeout}))
    return checks


class ReadinessView(HealthCheckView):
    """django-health-check's view, served as a sync view: its checks run on an event loop of their
    own in a helper thread. (Django would run the library's async view through async_to_sync,
    which refuses a thread that already has a running loop, as the test process has once
    Playwright's sync API started.)"""

    workers = True

    def get_checks(self):
        self.checks = readiness_checks(workers=self.workers)
        return super().get_checks()

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        response = View.dispatch(self, request, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        add_never_cache_headers(response)
        return response

    def get(self, request, *args, **kwargs):
        checks = HealthCheckView.get(self, request, *args, **kwargs)  # a coroutine
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, checks).result()


@never_cache
def liveness(request):
    return JsonResponse({"status": "ok"})


readiness = ReadinessView.as_view()
# The web pods' readiness probe: everything but the workers, so a worker Deployment that is down
# (an alert on /health/ready/) does not take every web pod out of its Service as well.
readiness_web = ReadinessView.as_view(workers=False)
