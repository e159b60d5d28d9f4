"""The guides at /docs/ (built from docs/ by mkdocs into var/docs-site/).

Included by citychain/urls.py as ``path("docs/", include("citychain.urls_docs"))``.
"""

from django.urls import path

from citychain import views

app_name = "docs"

urlpatterns = [
    path("", views.docs_page, name="index"),
    path("<path:path>", views.docs_page, name="page"),
]
