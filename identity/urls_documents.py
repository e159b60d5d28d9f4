"""Documents: upload and download at the desk; the public verification page."""

from django.urls import path

from identity import views_documents as views

urlpatterns = [
    path("upload/<uuid:public_id>/", views.document_upload, name="document_upload"),
    path("<int:pk>/download/", views.document_download, name="document_download"),
    path("verify/", views.document_verify, name="document_verify"),
]
