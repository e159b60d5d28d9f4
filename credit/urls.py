"""The credit portal's pages."""

from django.urls import path  # noqa: F401

app_name = "credit"

urlpatterns: list = []
