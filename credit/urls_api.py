"""The credit REST API (credit.api), under /api/credit/."""

from django.urls import path

from credit import api

app_name = "credit-api"

urlpatterns = [
    path("payments/", api.PaymentListView.as_view(), name="payments"),
    path("payments/<uuid:public_id>/", api.PaymentDetailView.as_view(), name="payment"),
    path("payments/<uuid:public_id>/paid/", api.PaymentPaidView.as_view(), name="payment-paid"),
    path("disputes/", api.DisputeListView.as_view(), name="disputes"),
    path("reports/verify/", api.ReportVerifyView.as_view(), name="report-verify"),
]
