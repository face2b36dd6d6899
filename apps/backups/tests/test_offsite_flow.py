"""The off-site copy in the backup flow: uploaded after a backup, fetched for a restore."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.backups import offsite, services
from apps.backups.models import BackupRun
from apps.backups.tests.test_offsite import endpoint  # noqa: F401  (the moto server fixture)
from apps.knowledge import index
from apps.technologies.models import Technology
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bucket(settings, endpoint: str, tmp_path: Path) -> Iterator[offsite.OffsiteConfig]:  # noqa: F811
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.CHROMA_URL = ""
    settings.REDIS_URL = ""
    settings.BACKUP_S3_BUCKET = f"flow-{tmp_path.name[-12:].lower().replace('_', '-')}"
    settings.BACKUP_S3_ENDPOINT_URL = endpoint
    settings.BACKUP_S3_ACCESS_KEY_ID = "testing"
    settings.BACKUP_S3_SECRET_ACCESS_KEY = "testing"
    index.reset_clients()
    config = offsite.config_from_settings()
    offsite.make_client(config).create_bucket(Bucket=config.bucket)
    yield config
    index.reset_clients()


def test_a_backup_is_copied_off_site_and_restored_from_there(bucket, settings):
    TechnologyFactory.create(title="Off-site")
    out = StringIO()
    call_command("backup", "--only", "postgres,rag", stdout=out, stderr=StringIO())
    assert "copied off-site" in out.getvalue()
    stamp = services.latest_complete()
    assert BackupRun.objects.get(timestamp=stamp).offsite == "uploaded"
    assert offsite.list_remote_sets(bucket) == [stamp]

    shutil.rmtree(settings.BACKUP_DIR)  # the machine lost its disk
    Technology.objects.all().delete()
    restored = StringIO()
    call_command("restore", stamp, "--yes", "--no-safety-backup", stdout=restored, stderr=StringIO())
    assert f"restore of {stamp} complete" in restored.getvalue()
    assert list(Technology.objects.values_list("title", flat=True)) == ["Off-site"]


def test_remote_retention_keeps_the_newest_set(bucket, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.RETENTION_DAYS = 30
    run = services.run_backup(components=["postgres"])
    services.copy_offsite(run.timestamp)
    later = timezone.now() + timedelta(days=40)
    assert services.prune_offsite(now=later) == []  # the only (newest) set stays
    second = services.run_backup(components=["postgres"])
    services.copy_offsite(second.timestamp)
    assert services.prune_offsite(now=later, dry_run=True) == [run.timestamp]
    services.prune_offsite(now=later)
    assert offsite.list_remote_sets(bucket) == [second.timestamp]
