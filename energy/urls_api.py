"""The energy REST API (energy.api), under /api/energy/."""

from django.urls import path

from energy import api

app_name = "energy-api"

urlpatterns = [
    path(
        "meters/<slug:meter_id>/readings/",
        api.MeterReadingsView.as_view(),
        name="meter-readings",
    ),
    path("meters/<slug:meter_id>/token/", api.MeterTokenView.as_view(), name="meter-token"),
    path("readings/", api.UploadView.as_view(), name="readings-upload"),
    path("market/", api.MarketView.as_view(), name="market"),
    path("intervals/", api.IntervalListView.as_view(), name="intervals"),
    path("intervals/<int:pk>/", api.IntervalBookView.as_view(), name="interval-book"),
]
