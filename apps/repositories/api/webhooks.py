from __future__ import annotations

from typing import Any

import structlog
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import parsers
from apps.jobs.services import job_url
from apps.repositories import webhooks

log = structlog.get_logger(__name__)


class WebhookAnswerSerializer(serializers.Serializer[None]):
    status = serializers.ChoiceField(choices=["pong", "queued", "duplicate", "ignored"])
    detail = serializers.CharField()
    repository = serializers.CharField(required=False)
    job_id = serializers.CharField(required=False)
    url = serializers.CharField(required=False)


class GitHubWebhookView(APIView):
    """GitHub webhook receiver (``application/json`` deliveries). Authenticated by
    ``X-Hub-Signature-256`` alone; ``push`` and ``repository`` events sync the repository."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        auth=[],
        request={"application/json": {"type": "object", "additionalProperties": True}},
        parameters=[
            OpenApiParameter("X-GitHub-Event", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-GitHub-Delivery", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Hub-Signature-256", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={
            200: WebhookAnswerSerializer,
            202: WebhookAnswerSerializer,
            400: OpenApiResponse(description="Not JSON, or a header is missing."),
            403: OpenApiResponse(description="Missing or bad signature, or no GITHUB_WEBHOOK_SECRET configured."),
        },
    )
    def post(self, request: Request) -> Response:
        # The signature covers the raw body: read it as sent, parse it only after the check.
        body = request.body
        if not webhooks.signature_is_valid(body, request.headers.get("X-Hub-Signature-256", "")):
            log.warning("github_webhook_rejected", reason="signature")
            return Response({"detail": "Invalid or missing X-Hub-Signature-256."}, status=status.HTTP_403_FORBIDDEN)
        event = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        if not event or not delivery:
            return Response(
                {"detail": "X-GitHub-Event and X-GitHub-Delivery are required."}, status=status.HTTP_400_BAD_REQUEST
            )
        try:
            payload = parsers.loads(body or b"{}")
        except ValueError:  # UnicodeDecodeError and too deep a document included
            return Response({"detail": "The body is not JSON."}, status=status.HTTP_400_BAD_REQUEST)
        if not isinstance(payload, dict):
            return Response({"detail": "The body must be a JSON object."}, status=status.HTTP_400_BAD_REQUEST)
        handled = webhooks.handle(event, delivery, payload)
        answer: dict[str, Any] = {"status": handled.status, "detail": handled.detail}
        if handled.repository:
            answer["repository"] = handled.repository
        if handled.job_id:
            answer.update(job_id=handled.job_id, url=job_url(handled.job_id))
            return Response(answer, status=status.HTTP_202_ACCEPTED)
        return Response(answer)
