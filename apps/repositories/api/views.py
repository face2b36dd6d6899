from __future__ import annotations

from rest_framework import viewsets

from apps.repositories import services
from apps.repositories.api.serializers import RepositorySerializer
from apps.repositories.filtersets import RepositoryFilterSet
from apps.repositories.models import Repository


class RepositoryViewSet(viewsets.ModelViewSet[Repository]):
    queryset = Repository.objects.all()
    serializer_class = RepositorySerializer
    filterset_class = RepositoryFilterSet
    search_fields = ["full_name", "description", "language"]

    def perform_destroy(self, instance: Repository) -> None:
        services.delete_repository(instance)
