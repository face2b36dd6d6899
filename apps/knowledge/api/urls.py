from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.knowledge.api.views import DocumentViewSet, QueryView, StatisticsView

router = SimpleRouter()
router.register("knowledge/documents", DocumentViewSet, basename="knowledge-document")
urlpatterns = [
    path("knowledge/query/", QueryView.as_view(), name="knowledge-query"),
    path("knowledge/statistics/", StatisticsView.as_view(), name="knowledge-statistics"),
    *router.urls,
]
