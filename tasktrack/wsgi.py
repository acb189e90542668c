"""WSGI entry point, for serving HTTP with a WSGI server beside daphne for WebSockets."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasktrack.settings")
application = get_wsgi_application()
