"""The credit portal's pages: reporters (staff), residents (kiosk session) and the public
verification of reports. URLs carry public ids only; a city ID is only ever POSTed."""

from django.urls import path

from credit import views

app_name = "credit"

urlpatterns = [
    # Reporters: landlords, utilities, the microgrid, lending-circle funds.
    path("", views.reporter_home, name="reporter_home"),
    path("records/find/", views.resident_lookup, name="resident_lookup"),
    path("records/new/", views.record_new, name="record_new"),
    path("records/<uuid:public_id>/", views.record_detail, name="record_detail"),
    path("records/<uuid:public_id>/paid/", views.record_mark_paid, name="record_mark_paid"),
    path("disputes/", views.dispute_list, name="disputes"),
    path("disputes/<uuid:public_id>/", views.dispute_detail, name="dispute_detail"),
    path(
        "disputes/<uuid:public_id>/investigate/",
        views.dispute_investigate,
        name="dispute_investigate",
    ),
    path("disputes/<uuid:public_id>/resolve/", views.dispute_resolve, name="dispute_resolve"),
    path("circles/", views.circle_list, name="circles"),
    path("circles/new/", views.circle_new, name="circle_new"),
    path("circles/<uuid:public_id>/", views.circle_detail, name="circle_detail"),
    path("circles/<uuid:public_id>/members/", views.circle_member_add, name="circle_member_add"),
    path("circles/<uuid:public_id>/start/", views.circle_start, name="circle_start"),
    path(
        "circles/<uuid:public_id>/contributions/",
        views.circle_contribution,
        name="circle_contribution",
    ),
    path("circles/<uuid:public_id>/payouts/", views.circle_payout, name="circle_payout"),
    # Residents, signed in at the kiosk.
    path("me/", views.my_credit, name="my_credit"),
    path("me/records/<uuid:public_id>/dispute/", views.my_dispute, name="my_dispute"),
    path("me/bureau/", views.my_bureau, name="my_bureau"),
    path("me/bureau/stop/", views.my_bureau_stop, name="my_bureau_stop"),
    path("me/reports/", views.my_report_issue, name="my_report_issue"),
    path("me/reports/<uuid:public_id>/", views.my_report, name="my_report"),
    path("me/reports/<uuid:public_id>/report.json", views.my_report_json, name="my_report_json"),
    path("me/reports/<uuid:public_id>/share/", views.my_share_create, name="my_share_create"),
    path("me/links/<uuid:public_id>/revoke/", views.my_share_revoke, name="my_share_revoke"),
    # Public: anyone shown a report.
    path("verify/", views.verify_start, name="verify_start"),
    path("verify/<str:code>/", views.verify_report, name="verify_report"),
    path("shared/<str:token>/", views.shared_report, name="shared_report"),
]
