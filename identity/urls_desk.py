"""The caseworker desk, at /identity/. URLs carry a resident's public UUID, nothing else."""

from django.urls import path

from identity import views_desk as views

urlpatterns = [
    path("", views.home, name="home"),
    path("enroll/", views.enroll, name="enroll"),
    path("request-access/", views.request_access, name="request_access"),
    path("r/<uuid:public_id>/", views.resident, name="resident"),
    path("r/<uuid:public_id>/ssn/", views.ssn_reveal, name="ssn_reveal"),
    path("r/<uuid:public_id>/card/", views.card, name="card"),
    path("r/<uuid:public_id>/card/reissue/", views.card_reissue, name="card_reissue"),
    path("r/<uuid:public_id>/photo/", views.photo, name="photo"),
    path("r/<uuid:public_id>/consents/new/", views.consent_new, name="consent_new"),
    path("r/<uuid:public_id>/consents/print/", views.consent_print, name="consent_print"),
    path("consents/<int:pk>/revoke/", views.consent_revoke, name="consent_revoke"),
    path("r/<uuid:public_id>/encounters/new/", views.encounter_new, name="encounter_new"),
    path("r/<uuid:public_id>/referrals/new/", views.referral_new, name="referral_new"),
    path("referrals/<int:pk>/status/", views.referral_status, name="referral_status"),
    path("r/<uuid:public_id>/link/", views.link, name="link"),
    path("r/<uuid:public_id>/links/<int:pk>/unlink/", views.unlink, name="unlink"),
    path("r/<uuid:public_id>/erase/", views.erase, name="erase"),
]
