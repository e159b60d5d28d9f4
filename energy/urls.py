"""The energy portal's pages."""

from django.urls import path  # noqa: F401

app_name = "energy"

urlpatterns: list = []
