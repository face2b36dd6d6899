from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.technologies.api.views import RadarSVGView, TechnologyViewSet

router = SimpleRouter()
router.register("technologies", TechnologyViewSet, basename="technology")
urlpatterns = [
    # No trailing slash: a file name, as clients and <img> tags expect.
    path("technologies/radar.svg", RadarSVGView.as_view(), name="technology-radar-svg"),
    *router.urls,
]
