from typing import Any

import factory

from apps.technologies.choices import RadarRing, TechnologyDomain, TechnologyStatus
from apps.technologies.models import Tag, Technology
from apps.technologies.services import tags_for


class TagFactory(factory.django.DjangoModelFactory[Tag]):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class TechnologyFactory(factory.django.DjangoModelFactory[Technology]):
    class Meta:
        model = Technology
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Technology {n}")
    vendor = factory.Sequence(lambda n: f"Vendor {n}")
    domain = TechnologyDomain.BACKEND
    status = TechnologyStatus.EVALUATION
    ring = RadarRing.TRIAL
    relevance_score = 60
    priority = 3
    description = factory.Sequence(lambda n: f"Description number {n}.")

    @factory.post_generation
    def tags(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.tags.set(tags_for(extracted))

    @factory.post_generation
    def repositories(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.repositories.set(extracted)
