"""`/` (named "dashboard"): mounted by the root URLconf, which names apps only by string."""

from django.urls import path

from . import views

urlpatterns = [path("", views.home, name="dashboard")]
