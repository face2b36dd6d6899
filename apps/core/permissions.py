"""Django model permissions applied to the API, reads included, and read-only keys."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions
from rest_framework.request import Request

from apps.core.models import APIKey


class ModelPermissions(DjangoModelPermissions):
    """Authenticated, holding the model permission for the method (``view_*`` for reads),
    and for a read-only API key, reads only."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if isinstance(request.auth, APIKey) and request.auth.read_only and request.method not in SAFE_METHODS:
            self.message = "This API key is read-only."
            return False
        return super().has_permission(request, view)


class ChangeModelPermissions(ModelPermissions):
    """For actions that modify an existing object through POST (e.g. adding an attachment)."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class ReadModelPermissions(ModelPermissions):
    """For read-only actions that take a body through POST (e.g. a search query)."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        return DjangoModelPermissions.has_permission(self, request, view)


class IsStaff(BasePermission):
    message = "Staff only."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_staff:
            return False
        if isinstance(request.auth, APIKey) and request.auth.read_only and request.method not in SAFE_METHODS:
            self.message = "This API key is read-only."
            return False
        return True
