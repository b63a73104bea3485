import os
from fnmatch import fnmatchcase

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")

app = Celery("cardportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queue_of(task_name: str) -> str:
    """The queue a task is routed to (settings.CELERY_QUEUES, by task name)."""
    from django.conf import settings

    for name, queue in settings.CELERY_QUEUES.items():
        if any(fnmatchcase(task_name, pattern) for pattern in queue["tasks"]):
            return name
    return settings.CELERY_TASK_DEFAULT_QUEUE


class QueueTimeLimits:
    """Celery task annotation (CELERY_TASK_ANNOTATIONS): a task that declares no time limit of its
    own gets its queue's (soft, hard) limits, so a runaway sheet is stopped after an hour and a
    stuck SMS gateway call after a minute and a half."""

    def annotate(self, task):
        from django.conf import settings

        soft, hard = settings.CELERY_QUEUES[queue_of(task.name)]["time_limits"]
        if task.time_limit is not None or task.soft_time_limit is not None:
            return {}  # the task's own limits stand (an SMS send's 60/90 s, the file sweep's hour)
        return {"soft_time_limit": soft, "time_limit": hard}

    def annotate_any(self):
        return None
