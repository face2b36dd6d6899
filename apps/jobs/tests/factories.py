import uuid

import factory

from apps.jobs.choices import JobState
from apps.jobs.models import Job


class JobFactory(factory.django.DjangoModelFactory[Job]):
    class Meta:
        model = Job

    task_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    name = "apps.backups.tasks.run_backup"
    state = JobState.QUEUED
