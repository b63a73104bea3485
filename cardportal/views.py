from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from .registry import registry, render_panels
from .replica import replica_reads
from .scoping import staff_of


@login_required
@replica_reads
def dashboard(request):
    staff = staff_of(request.user)
    return render(
        request,
        "dashboard.html",
        {"staff": staff, "panels": render_panels(registry.dashboard, request)},
    )


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
