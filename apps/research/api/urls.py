from rest_framework.routers import SimpleRouter

from apps.research.api.views import ResearchTaskViewSet

router = SimpleRouter()
router.register("research-tasks", ResearchTaskViewSet, basename="research-task")
urlpatterns = router.urls
