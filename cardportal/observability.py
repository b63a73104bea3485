"""Logs, metrics and error reports as production runs them (docs/operations.md, "Health, logs and
metrics").

* Logs: one JSON object a line (python-json-logger) with the request id that django-guid takes
  from `X-Request-ID` (or makes) and carries into every Celery task the request enqueues. The
  formatters (cardportal/logformat.py) mask anything that looks like a mainland ID number or mobile number in the finished
  line, traceback included: a second guard behind the rule that no code logs them (the whole
  journey's records are scanned for them, tests/test_journey_leak_scan.py, and the production
  processes' output, tests/browser/test_serve_journey.py).
* Metrics: django-prometheus counts requests; the Celery signals below time every task and count
  its failures per queue; `QueueDepth` reads the broker's queue lengths when scraped. `/metrics`
  answers only a bearer token (`METRICS_TOKEN`), and does not exist without one.
* Sentry: only with `SENTRY_DSN`; no default PII, and the same masking over every event.
"""

import hmac
import os
import time

from celery import signals
from django.conf import settings
from django.http import Http404, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from .logformat import scrub


# --- Sentry ---------------------------------------------------------------------------------------
def _scrub_value(value):
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    return value


def sentry_before_send(event, hint):
    """Every string of an event (messages, exception values, local variables, breadcrumbs)
    masked before it leaves the machine."""
    return _scrub_value(event)


def sentry_init(dsn: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,  # no user names, addresses, cookies or request bodies
        include_local_variables=False,  # a frame's variables may hold a member's row
        max_request_body_size="never",
        before_send=sentry_before_send,
        before_send_transaction=sentry_before_send,
        before_breadcrumb=lambda crumb, hint: _scrub_value(crumb),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
    )


# --- Metrics --------------------------------------------------------------------------------------
TASK_SECONDS = Histogram(
    "cardportal_task_duration_seconds",
    "Celery task run time, by task and queue",
    ["task", "queue"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600),
)
TASK_FAILURES = Counter(
    "cardportal_task_failures_total", "Celery tasks that raised, by task and queue", ["task", "queue"]
)
_started: dict[str, float] = {}


def _queue(task) -> str:
    info = getattr(task.request, "delivery_info", None) or {}
    return info.get("routing_key") or "eager"


@signals.task_prerun.connect
def _task_started(task_id=None, **kwargs):
    _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_ended(task_id=None, task=None, **kwargs):
    began = _started.pop(task_id, None)
    if began is not None and task is not None:
        TASK_SECONDS.labels(task.name, _queue(task)).observe(time.monotonic() - began)


@signals.task_failure.connect
def _task_failed(sender=None, **kwargs):
    if sender is not None:
        TASK_FAILURES.labels(sender.name, _queue(sender)).inc()


class QueueDepth:
    """Messages waiting in each Celery queue, read from the Redis broker at scrape time."""

    def collect(self):
        gauge = GaugeMetricFamily(
            "cardportal_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        if settings.CELERY_BROKER_URL.startswith("redis"):
            import redis

            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
            try:
                for name in settings.CELERY_QUEUES:
                    gauge.add_metric([name], client.llen(name))
            finally:
                client.close()
        yield gauge


def registry() -> CollectorRegistry:
    """This process's metrics, or every process's under a multiprocess directory (gunicorn and
    Celery prefork children write there), plus the queue depths."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
    else:
        collected = REGISTRY
    merged = CollectorRegistry()
    merged.register(_Union(collected))
    merged.register(QueueDepth())
    return merged


class _Union:
    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):
        return self.source.collect()


def metrics(request):
    """GET /metrics for Prometheus: only with `Authorization: Bearer <METRICS_TOKEN>`; a 404 when
    no token is configured or another is sent (nothing tells a stranger it exists)."""
    expected = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
        raise Http404
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


@signals.worker_init.connect
def _worker_metrics_port(**kwargs):
    """A worker with WORKER_METRICS_PORT serves its (prefork children's) metrics on that port, for
    a scraper inside the cluster (Kubernetes: a NetworkPolicy keeps it there)."""
    port = os.environ.get("WORKER_METRICS_PORT")
    if port:
        from prometheus_client import start_http_server

        start_http_server(int(port), registry=registry())
