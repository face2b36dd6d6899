import factory

from apps.knowledge.models import Document


class DocumentFactory(factory.django.DjangoModelFactory[Document]):
    class Meta:
        model = Document

    title = factory.Sequence(lambda n: f"Document {n}")
