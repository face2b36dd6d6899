"""Fast list endpoints: rows read with ``.values()`` and rendered by the serializer's own fields.

A stock DRF list builds a model instance per row, runs ``prefetch_related`` (a related
manager and a queryset clone per row and relation) and walks every serializer field through
``get_attribute``. For wide pages that is most of the request. ``ValuesListMixin`` reads the
page as dictionaries, the many-to-many values with one ``values_list`` query per relation on
the through table, and converts each value with the matching serializer field only where the
value is not already in its JSON form (dates, decimals). The output is identical to the
serializer's (a test per endpoint compares them); only plain model fields and
many-to-many fields listed in ``values_many`` are supported, anything else is refused when
the plan is built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import ForeignKey, ManyToManyField, Model, QuerySet
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

# Serializer fields whose representation of a database value is the value itself.
IDENTITY_FIELDS = (
    serializers.CharField,  # includes Slug, URL, Email, Regex
    serializers.ChoiceField,
    serializers.IntegerField,
    serializers.BooleanField,
    serializers.JSONField,
    serializers.PrimaryKeyRelatedField,
)


@dataclass(frozen=True)
class ManyPlan:
    name: str
    through: type[Model]
    source_column: str
    value_lookup: str
    ordering: tuple[str, ...]


@dataclass(frozen=True)
class ValuesPlan:
    columns: tuple[str, ...]
    fields: tuple[tuple[str, str, Callable[[Any], Any] | None], ...]  # output name, column, converter
    many: tuple[ManyPlan, ...]
    output_order: tuple[str, ...]


def _many_plan(model: type[Model], name: str, attribute: str) -> ManyPlan:
    field = model._meta.get_field(name)
    if not isinstance(field, ManyToManyField):
        raise ImproperlyConfigured(f"{model.__name__}.{name} is not a many-to-many field")
    through: type[Model] = field.remote_field.through  # type: ignore[assignment]
    source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
    related: Any = field.related_model
    value_lookup = f"{target}_id" if attribute == "pk" else f"{target}__{attribute}"
    ordering = []
    for term in related._meta.ordering or ["pk"]:
        descending = term.startswith("-")
        ordering.append(f"{'-' if descending else ''}{target}__{term.lstrip('-')}")
    return ManyPlan(name, through, f"{source}_id", value_lookup, tuple(ordering))


def build_plan(serializer: serializers.Serializer[Any], model: type[Model], many: dict[str, str]) -> ValuesPlan:
    columns: list[str] = []
    fields: list[tuple[str, str, Callable[[Any], Any] | None]] = []
    many_plans: list[ManyPlan] = []
    order: list[str] = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        order.append(name)
        source = str(field.source)
        if name in many:
            many_plans.append(_many_plan(model, source, many[name]))
            continue
        if "." in source or source == "*":
            raise ImproperlyConfigured(f"{name}: only plain model fields can be read with .values()")
        try:
            model_field = model._meta.get_field(source)
        except Exception as exc:
            raise ImproperlyConfigured(f"{name}: {source} is not a field of {model.__name__}") from exc
        if model_field.many_to_many or model_field.one_to_many:
            raise ImproperlyConfigured(f"{name}: list it in values_many")
        column = model_field.attname if isinstance(model_field, ForeignKey) else model_field.name
        columns.append(column)
        converter = None if isinstance(field, IDENTITY_FIELDS) else field.to_representation
        fields.append((name, column, converter))
    return ValuesPlan(tuple(columns), tuple(fields), tuple(many_plans), tuple(order))


class ValuesListMixin:
    """For a ``GenericViewSet``: serve ``list`` from ``.values()`` rows (see the module doc).

    ``values_many`` maps serializer fields of many-to-many relations to the attribute of the
    related object that the serializer shows (``"pk"`` or e.g. ``"name"``); they come out in
    the related model's default ordering, as a prefetch with that ordering gives them.
    """

    values_many: ClassVar[dict[str, str]] = {}
    _values_plans: ClassVar[dict[type, ValuesPlan]] = {}

    def values_plan(self) -> ValuesPlan:
        cls = type(self)
        plan = ValuesListMixin._values_plans.get(cls)
        if plan is None:
            view: Any = self
            plan = build_plan(view.get_serializer(), view.get_queryset().model, self.values_many)
            ValuesListMixin._values_plans[cls] = plan
        return plan

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        plan = self.values_plan()
        queryset: QuerySet[Any] = view.filter_queryset(view.get_queryset()).prefetch_related(None)
        rows_queryset = queryset.values(*plan.columns)
        page = view.paginate_queryset(rows_queryset)
        data = represent(list(page if page is not None else rows_queryset), plan)
        if page is not None:
            response: Response = view.get_paginated_response(data)
            return response
        return Response(data)


def represent(rows: list[dict[str, Any]], plan: ValuesPlan) -> list[dict[str, Any]]:
    """The API representation of ``rows`` (dicts of ``plan.columns``), relations included."""
    ids = [row["id"] for row in rows]
    related: dict[str, dict[Any, list[Any]]] = {}
    for many in plan.many:
        values: dict[Any, list[Any]] = defaultdict(list)
        if ids:
            pairs = (
                many.through._default_manager.filter(**{f"{many.source_column}__in": ids})
                .order_by(*many.ordering)
                .values_list(many.source_column, many.value_lookup)
            )
            for owner, value in pairs:
                values[owner].append(value)
        related[many.name] = values
    results = []
    for row in rows:
        item: dict[str, Any] = {}
        for name, column, converter in plan.fields:
            value = row[column]
            item[name] = converter(value) if converter is not None and value is not None else value
        for many in plan.many:
            item[many.name] = related[many.name].get(row["id"], [])
        results.append({name: item[name] for name in plan.output_order})
    return results
