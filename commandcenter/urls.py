from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core import schema  # noqa: F401  (the OpenAPI extensions, registered where the schema is built)
from apps.dashboard.views import favicon

# The apps' admin modules: imported here, with the URLconf, rather than at start-up
# (apps/dashboard/admin_site.py).
admin.autodiscover()

api_v1 = [
    path("", include("apps.repositories.api.urls")),
    path("", include("apps.technologies.api.urls")),
    path("", include("apps.research.api.urls")),
    path("", include("apps.jobs.api.urls")),
    path("", include("apps.knowledge.api.urls")),
    path("", include("apps.backups.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(url=f"/{settings.ADMIN_URL}", permanent=False)),
    path(settings.ADMIN_URL, admin.site.urls),
    # Browsers ask for /favicon.ico on every page that names none (the API's, for one).
    path("favicon.ico", favicon),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script from a URL: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

admin.site.site_header = "Command Center"
admin.site.site_title = "Command Center"
admin.site.index_title = "Repositories, technology radar, research and operations"
