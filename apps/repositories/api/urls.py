from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.repositories.api.views import RepositoryViewSet
from apps.repositories.api.webhooks import GitHubWebhookView

router = SimpleRouter()
router.register("repositories", RepositoryViewSet, basename="repository")
urlpatterns = [
    path("webhooks/github/", GitHubWebhookView.as_view(), name="github-webhook"),
    *router.urls,
]
