import uuid

import factory

from apps.research.choices import ResearchRunStatus, ResearchTaskStatus
from apps.research.models import ResearchRun, ResearchTask


class ResearchTaskFactory(factory.django.DjangoModelFactory[ResearchTask]):
    class Meta:
        model = ResearchTask

    title = factory.Sequence(lambda n: f"Research task {n}")
    description = factory.Sequence(lambda n: f"Description number {n}.")
    status = ResearchTaskStatus.PENDING


class ResearchRunFactory(factory.django.DjangoModelFactory[ResearchRun]):
    class Meta:
        model = ResearchRun

    task = factory.SubFactory(ResearchTaskFactory)
    job_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    status = ResearchRunStatus.QUEUED
