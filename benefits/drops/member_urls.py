from django.urls import path

from . import fast
from . import member_views as views

app_name = "medrops"

urlpatterns = [
    path("", views.drop_list, name="list"),
    path("<int:pk>/", views.drop_page, name="drop"),
    path("<int:pk>/claim/", views.claim, name="claim"),
    # The lean press (fast.py). In production cardportal/earlywsgi.py answers this path before
    # Django; this route serves the same function under runserver and the test servers.
    path("<int:pk>/grab/", fast.grab_view, name="grab"),
    path("<int:pk>/remind/", views.remind, name="remind"),
    path("tickets/", views.ticket_list, name="tickets"),
    path("tickets/<int:pk>/", views.ticket_page, name="ticket"),
    path("tickets/<int:pk>/pay/", views.ticket_pay, name="pay"),
]
