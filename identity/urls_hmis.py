"""The HMIS export page, under /identity/hmis/ (namespace "identity")."""

from django.urls import path

from identity import views_hmis

urlpatterns = [
    path("", views_hmis.hmis_export_view, name="hmis_export"),
]
