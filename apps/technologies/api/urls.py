from rest_framework.routers import SimpleRouter

from apps.technologies.api.views import TechnologyViewSet

router = SimpleRouter()
router.register("technologies", TechnologyViewSet, basename="technology")
urlpatterns = router.urls
