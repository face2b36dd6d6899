"""The admin site of Command Center: Django's, with the dashboard as its index page and the
technology radar page. ``CommandCenterAdminConfig`` (in INSTALLED_APPS in place of
``django.contrib.admin``) makes it ``admin.site``, so every ``@admin.register`` lands here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path


class CommandCenterAdminSite(admin.AdminSite):
    index_template = "admin/dashboard/index.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from apps.dashboard.views import dashboard_context

        return super().index(request, extra_context={**dashboard_context(request), **(extra_context or {})})

    def radar_view(self, request: HttpRequest) -> HttpResponse:
        from apps.dashboard.views import radar

        return radar(request, self)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # Before the site's own patterns, which end with a catch-all.
        own: list[URLResolver | URLPattern] = [
            path("technologies/radar/", self.admin_view(self.radar_view), name="technologies_radar"),
        ]
        return own + super().get_urls()


class CommandCenterAdminConfig(AdminConfig):
    default_site = "apps.dashboard.admin_site.CommandCenterAdminSite"
