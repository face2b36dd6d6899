from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

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
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

admin.site.site_header = "Command Center"
admin.site.site_title = "Command Center"
admin.site.index_title = "Repositories, technology radar, research and operations"
