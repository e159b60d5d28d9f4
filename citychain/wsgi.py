"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citychain.settings")
django_application = get_wsgi_application()

from voting.fast_lane import CastFastLane  # noqa: E402 (needs Django set up)

# Plain ballot casts are answered in front of Django's request stack; see voting/fast_lane.py.
application = CastFastLane(django_application)
