import factory

from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask


class ResearchTaskFactory(factory.django.DjangoModelFactory[ResearchTask]):
    class Meta:
        model = ResearchTask

    title = factory.Sequence(lambda n: f"Research task {n}")
    description = factory.Sequence(lambda n: f"Description number {n}.")
    status = ResearchTaskStatus.PENDING
