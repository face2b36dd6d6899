from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import slugify

from apps.core.models import TimeStampedModel
from apps.technologies.choices import RadarRing, TechnologyDomain, TechnologyStatus


class Tag(models.Model):
    """A free label on technologies; a plain table so that filters work on any database."""

    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Technology(TimeStampedModel):
    title = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=220, unique=True, blank=True)
    vendor = models.CharField(max_length=200, blank=True)
    domain = models.CharField(max_length=20, choices=TechnologyDomain.choices, default=TechnologyDomain.OTHER)
    status = models.CharField(max_length=20, choices=TechnologyStatus.choices, default=TechnologyStatus.DISCOVERY)
    ring = models.CharField(
        "radar ring", max_length=10, choices=RadarRing.choices, blank=True, help_text="Empty: not placed yet."
    )
    relevance_score = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(0), MaxValueValidator(100)], help_text="0-100"
    )
    priority = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(5)], help_text="1 (highest) to 5"
    )
    description = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    use_cases = models.TextField(blank=True)
    documentation_url = models.URLField(max_length=500, blank=True)
    repository_url = models.URLField(max_length=500, blank=True)
    website_url = models.URLField(max_length=500, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="technologies")
    repositories = models.ManyToManyField("repositories.Repository", blank=True, related_name="technologies")

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "technologies"
        indexes = [
            models.Index(fields=["domain", "ring"]),
            models.Index(fields=["status"]),
            models.Index(fields=["ring"]),
            models.Index(fields=["priority"]),
            models.Index(fields=["relevance_score"]),
            models.Index(fields=["vendor"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(relevance_score__gte=0, relevance_score__lte=100), name="technology_score_0_100"
            ),
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=5), name="technology_priority_1_5"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.slug:
            self.slug = unique_slug(self.title, exclude_pk=self.pk)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


def unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:200] or "technology"
    slug, n = base, 2
    others = Technology.objects.exclude(pk=exclude_pk) if exclude_pk else Technology.objects.all()
    while others.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug
