"""The resident kiosk: sign in with city ID and PIN, see one's own record."""

from django.urls import path

from identity import views_kiosk as views

urlpatterns = [
    path("", views.kiosk, name="kiosk"),
    path("me/", views.kiosk_home, name="kiosk_home"),
    path("me/documents/<int:pk>/", views.kiosk_document, name="kiosk_document"),
    path("me/consents/<int:pk>/revoke/", views.kiosk_revoke, name="kiosk_revoke"),
    path("signout/", views.kiosk_signout, name="kiosk_signout"),
]
