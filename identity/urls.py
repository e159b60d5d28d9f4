"""The identity portal. Each area keeps its own URL module so they can grow apart."""

from django.urls import include, path

app_name = "identity"

urlpatterns = [
    path("", include("identity.urls_desk")),
    path("documents/", include("identity.urls_documents")),
    path("kiosk/", include("identity.urls_kiosk")),
    path("hmis/", include("identity.urls_hmis")),
]
