"""A real Celery worker process for the crash tests, with one function of a job held at a point
the test chooses, so the test can kill the worker (or cut its database connection) there and
not a moment earlier or later. Run as `python -m tests.jobs.worker <celery worker options>`.

JOB_PAUSE_AT=module:function   the function to hold (looked up through its module at call time;
                               module:object.method for a method of a module-level object)
JOB_PAUSE_DIR=<dir>            `paused` (holding pid) is written there; `go` releases a cut
JOB_PAUSE_MODE=hold|cut|die    hold: wait to be killed; cut: wait for `go`, then carry on (on a
                               dead connection); die: SIGKILL itself on every call (a poison job)
The hold and cut modes hold once (the first call across all processes of the worker)."""

import importlib
import os
import signal
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
django.setup()


def install_pause() -> None:
    target = os.environ.get("JOB_PAUSE_AT")
    if not target:
        return
    module_name, path = target.split(":")
    *owners, name = path.split(".")
    module = importlib.import_module(module_name)
    for owner in owners:  # "registry.notify_members_registered": a method of a module's object
        module = getattr(module, owner)
    original = getattr(module, name)
    folder = Path(os.environ["JOB_PAUSE_DIR"])
    mode = os.environ.get("JOB_PAUSE_MODE", "hold")

    def held(*args, **kwargs):
        if mode == "die":
            with open(folder / "deaths", "a") as deaths:
                deaths.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        marker = folder / "paused"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            while mode == "hold" or not (folder / "go").exists():
                time.sleep(0.05)
        return original(*args, **kwargs)

    setattr(module, name, held)


if __name__ == "__main__":
    install_pause()
    from cardportal.celery import app

    app.worker_main(["worker", *sys.argv[1:]])
