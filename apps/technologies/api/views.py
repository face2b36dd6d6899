from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.values_list import ValuesListMixin
from apps.repositories.models import Repository
from apps.technologies import services
from apps.technologies.api.serializers import RadarDomainSerializer, TechnologySerializer
from apps.technologies.filtersets import TechnologyFilterSet
from apps.technologies.models import Tag, Technology


class TechnologyViewSet(ValuesListMixin, viewsets.ModelViewSet[Technology]):
    queryset = Technology.objects.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.only("name")),
        # Only ids are shown: never load (and decrypt the tokens of) whole repositories.
        Prefetch("repositories", queryset=Repository.objects.only("id")),
    )
    values_many = {"tags": "name", "repositories": "pk"}
    serializer_class = TechnologySerializer
    filterset_class = TechnologyFilterSet
    search_fields = ["title", "vendor", "description", "tags__name"]

    def perform_destroy(self, instance: Technology) -> None:
        services.delete_technology(instance)

    @extend_schema(responses=RadarDomainSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def radar(self, request: Request) -> Response:
        """Technologies grouped by domain and radar ring (filters apply)."""
        queryset: QuerySet[Technology] = self.filter_queryset(Technology.objects.all())
        return Response(services.radar(queryset))
