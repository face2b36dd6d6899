from rest_framework.routers import SimpleRouter

from apps.repositories.api.views import RepositoryViewSet

router = SimpleRouter()
router.register("repositories", RepositoryViewSet, basename="repository")
urlpatterns = router.urls
