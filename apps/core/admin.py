from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.core import services
from apps.core.models import APIKey


class APIKeyCreationForm(forms.ModelForm[APIKey]):
    expires_in_days = forms.IntegerField(required=False, min_value=1, help_text="Empty: never expires.")

    class Meta:
        model = APIKey
        fields = ["user", "name", "read_only"]


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(pk__in=APIKey.objects.active().values("pk"))
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin[APIKey]):
    list_display = ["__str__", "user", "read_only", "is_active", "expires_at", "last_used_at", "created_at"]
    list_filter = [ActiveFilter, "read_only"]
    search_fields = ["prefix", "name", "user__username"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: APIKey | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = APIKeyCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: APIKey | None = None) -> Any:
        if obj is None:
            return ["user", "name", "read_only", "expires_in_days"]
        return ["user", "name", "prefix", "read_only", "expires_at", "last_used_at", "revoked_at", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: APIKey | None = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "prefix", "last_used_at", "created_at"]

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: APIKey) -> bool:
        return obj.is_active

    def save_model(self, request: HttpRequest, obj: APIKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = services.issue_api_key(
            obj.user,
            name=obj.name,
            read_only=obj.read_only,
            expires_in_days=form.cleaned_data.get("expires_in_days"),
        )
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        obj.key_hash = issued.api_key.key_hash
        obj.created_at = issued.api_key.created_at
        obj.expires_at = issued.api_key.expires_at
        # Shown once: only its hash is stored.
        self.message_user(
            request,
            f"New API key (copy it now, it will not be shown again): {issued.key}",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        count = services.revoke_api_keys(queryset)
        self.message_user(request, f"{count} key(s) revoked.", messages.SUCCESS)
