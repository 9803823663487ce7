import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundtool.settings")
django_application = get_wsgi_application()

from events.gateway.handler import route_publishing  # noqa: E402 - needs the settings and apps set up

application = route_publishing(django_application)
