"""The admin site of Command Center: Django's, with the dashboard as its index page and the
technology radar page. ``CommandCenterAdminConfig`` (in INSTALLED_APPS in place of
``django.contrib.admin``) makes it ``admin.site``, so every ``@admin.register`` lands here.

The apps' ``admin`` modules are imported with the URLconf (``commandcenter/urls.py`` calls
``admin.autodiscover()``), not while Django starts: the processes that never serve the admin
(``manage.py backup``/``restore`` and the other operational commands, Celery workers) skip
importing them and django-import-export, about 0.1 s of each start. The admin's system check
imports them first, so ``manage.py check`` still checks every ModelAdmin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.contrib import admin
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks
from django.core.checks import CheckMessage
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


def check_registered_admins(
    *, app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Django's ``check_admin_app``, after the admin modules are imported."""
    admin.autodiscover()
    return check_admin_app(app_configs, **kwargs)


class CommandCenterAdminConfig(SimpleAdminConfig):
    default_site = "apps.dashboard.admin_site.CommandCenterAdminSite"

    def ready(self) -> None:
        # SimpleAdminConfig.ready() registers check_admin_app, which would see an empty registry
        # when it runs before the URL checks have imported the URLconf.
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(check_registered_admins, checks.Tags.admin)
