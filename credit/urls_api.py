"""The credit REST API."""

from django.urls import path  # noqa: F401

app_name = "credit-api"

urlpatterns: list = []
