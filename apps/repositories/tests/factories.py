import factory

from apps.repositories.models import Repository


class RepositoryFactory(factory.django.DjangoModelFactory[Repository]):
    class Meta:
        model = Repository

    owner = factory.Sequence(lambda n: f"org{n}")
    name = factory.Sequence(lambda n: f"project-{n}")
    description = factory.Sequence(lambda n: f"Description number {n}.")
    language = "Python"
    stars = factory.Sequence(lambda n: n * 10)
