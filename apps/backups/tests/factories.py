import datetime as dt

import factory
from django.utils import timezone

from apps.backups.choices import RunStatus, Trigger
from apps.backups.models import BackupRun


class BackupRunFactory(factory.django.DjangoModelFactory[BackupRun]):
    """A finished, successful run ``hours_ago`` hours ago (timestamp and times agree)."""

    class Meta:
        model = BackupRun

    class Params:
        hours_ago = 1.0

    timestamp = factory.LazyAttribute(lambda o: f"{timezone.now() - dt.timedelta(hours=o.hours_ago):%Y%m%d_%H%M%S}")
    trigger = Trigger.SCHEDULE
    status = RunStatus.SUCCEEDED
    components = factory.LazyFunction(lambda: ["postgres", "rag", "redis"])
    finished_at = factory.LazyAttribute(lambda o: timezone.now() - dt.timedelta(hours=o.hours_ago))
    duration = 12.5
    size_bytes = 25_000_000
