"""The identity REST API for other systems (identity.api), under /api/identity/."""

from django.urls import path

from identity import api

app_name = "identity-api"

urlpatterns = [
    path("lookup/", api.ResidentLookupView.as_view(), name="lookup"),
    path(
        "residents/<uuid:public_id>/encounters/",
        api.EncounterCreateView.as_view(),
        name="resident-encounters",
    ),
    path(
        "residents/<uuid:public_id>/documents/",
        api.DocumentListView.as_view(),
        name="resident-documents",
    ),
]
