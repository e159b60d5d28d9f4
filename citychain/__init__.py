"""citychain project package: settings, the Celery app, URLs and shared templates."""

from .celery import app as celery_app

__all__ = ("celery_app",)
