"""citychain URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from citychain import api_docs, views

admin.site.site_header = "citychain"
admin.site.site_title = "citychain admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("status/", views.status, name="status"),
    path("healthz/", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("ledger/", include("ledger.urls")),
    path("identity/", include("identity.urls")),
    path("vote/", include("voting.urls")),
    path("officials/", include("voting.urls_official")),
    path("energy/", include("energy.urls")),
    path("credit/", include("credit.urls")),
    path("docs/", include("citychain.urls_docs")),
    path("api/identity/", include("identity.urls_api")),
    path("api/voting/", include("voting.urls_api")),
    path("api/energy/", include("energy.urls_api")),
    path("api/credit/", include("credit.urls_api")),
    path("api/ledger/", include("ledger.urls_api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # API reference from our own static files (drf_spectacular_sidecar), no inline script:
    # the split view serves Swagger UI's init code from /api/docs/?script= (strict CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="citychain/api_docs/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/redoc/", api_docs.RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/redoc/redoc.standalone.js", api_docs.redoc_bundle, name="api-redoc-bundle"),
]

handler400 = "citychain.views.bad_request"
handler403 = "citychain.views.permission_denied"
handler404 = "citychain.views.page_not_found"
handler500 = "citychain.views.server_error"
