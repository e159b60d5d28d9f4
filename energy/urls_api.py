"""The energy REST API."""

from django.urls import path  # noqa: F401

app_name = "energy-api"

urlpatterns: list = []
