"""Repositories as rows of an exported CSV or JSON file. The columns are listed one by one:
the access token (and GitHub's ETags) are never exported."""

from __future__ import annotations

from typing import Any

from import_export import resources

from apps.repositories.models import Repository

COLUMNS = (
    "id",
    "full_name",
    "owner",
    "name",
    "url",
    "description",
    "language",
    "is_private",
    "stars",
    "forks",
    "open_issues",
    "topics",
    "default_branch",
    "last_commit_sha",
    "last_commit_date",
    "latest_release_tag",
    "latest_release_date",
    "sync_status",
    "last_synced_at",
    "sync_error",
    "created_at",
    "updated_at",
)


class RepositoryResource(resources.ModelResource):
    class Meta:
        model = Repository
        fields = COLUMNS
        export_order = COLUMNS

    def get_queryset(self) -> Any:
        # Never load (and decrypt) the stored tokens only to leave them out.
        return super().get_queryset().defer("access_token", "github_etags")
