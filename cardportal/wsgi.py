import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
django_application = get_wsgi_application()

from cardportal.earlywsgi import EarlyRoutes  # noqa: E402 - needs the settings configured above

# The crowd's hot endpoints (the ticket grab's press) are answered before Django: earlywsgi.py.
application = EarlyRoutes(django_application)
