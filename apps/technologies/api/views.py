from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.renderers import SVGRenderer
from apps.core.api.values_list import ValuesListMixin
from apps.dashboard.radar import render_radar
from apps.dashboard.services import radar_blips
from apps.repositories.models import Repository
from apps.technologies import services
from apps.technologies.api.serializers import RadarDomainSerializer, TechnologySerializer
from apps.technologies.choices import RadarRing, TechnologyDomain, TechnologyStatus
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


class RadarSVGView(generics.GenericAPIView[Technology]):
    """The technology radar as an SVG picture: quadrants by domain group, rings adopt to
    hold, one dot per technology linking to its admin page. The list filters apply."""

    queryset = Technology.objects.all()
    filterset_class = TechnologyFilterSet
    search_fields = ["title", "vendor", "description", "tags__name"]
    renderer_classes = [SVGRenderer]
    pagination_class = None

    @extend_schema(
        operation_id="technologies_radar_svg",
        parameters=[
            OpenApiParameter("tags", str, description="Comma-separated tag names; any of them matches."),
            OpenApiParameter("status", str, many=True, enum=TechnologyStatus.values, explode=True),
            OpenApiParameter("domain", str, many=True, enum=TechnologyDomain.values, explode=True),
            OpenApiParameter("ring", str, many=True, enum=RadarRing.values, explode=True),
            OpenApiParameter("search", str, description="Words in the title, vendor, description or tags."),
        ],
        responses={
            (200, "image/svg+xml"): OpenApiResponse(response=OpenApiTypes.STR, description="An SVG document."),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(render_radar(radar_blips(self.filter_queryset(self.get_queryset()))))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        # Errors (401, 403, 400 for a bad filter, 406) are answered in JSON like everywhere else.
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
