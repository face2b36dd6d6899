"""Bench-only variants of ``GET /api/v1/technologies/``, for comparison with the real view.

* :func:`technology_list_floor` - "the floor": the same page from a raw cursor (the API-key
  query, COUNT, the page, one query for the tags and repository ids of those rows) encoded
  with ``json``. The least work that can produce that page inside Django.
* :class:`StockTechnologyListView` - "stock DRF": a plain ``ModelSerializer`` and
  ``ListAPIView`` with ``prefetch_related``, what most Django projects ship.

And :func:`trivial`, a view that does next to nothing (no database, no cache), for measuring
what the middleware costs per request (``benchmarks.middleware``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field, ManyToManyField, Model
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import generics, serializers
from rest_framework.utils.urls import remove_query_param, replace_query_param

from apps.core.pagination import StandardPagination
from apps.core.services import authenticate_key
from apps.repositories.models import Repository
from apps.technologies.api.serializers import TechnologySerializer
from apps.technologies.models import Tag, Technology

# --- the floor --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FloorSQL:
    scalar_names: tuple[str, ...]  # serializer fields read from the technology row, in SELECT order
    datetime_positions: tuple[int, ...]  # of those, the ones to render as ISO 8601 like DRF
    m2m_names: tuple[str, ...]  # serializer fields read by the related query, in its column order
    count: str
    page: str  # params: limit, offset
    related: str  # param: the list of technology ids


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return str(field.column)


def _order_by(model: type[Model], alias: str) -> str:
    """The model's default ``Meta.ordering`` as SQL on ``alias`` (what the ORM would emit)."""
    qn = connection.ops.quote_name
    terms = []
    for name in model._meta.ordering or ["pk"]:
        assert isinstance(name, str)
        column = model._meta.pk.column if name.lstrip("-") == "pk" else _column(model, name.lstrip("-"))
        terms.append(f"{alias}.{qn(column)}{' DESC' if name.startswith('-') else ''}")
    return ", ".join(terms)


@cache
def floor_sql() -> FloorSQL:
    """SQL for exactly the fields of ``TechnologySerializer.Meta.fields``, built once per process."""
    qn = connection.ops.quote_name
    meta = Technology._meta
    scalar_fields: list[Field[Any, Any]] = []
    m2m_fields: list[ManyToManyField[Any, Any]] = []
    for name in TechnologySerializer.Meta.fields:
        field = meta.get_field(name)
        if isinstance(field, ManyToManyField):
            m2m_fields.append(field)
        else:
            assert isinstance(field, Field)
            scalar_fields.append(field)
    # Each many-to-many field becomes one ARRAY(...) column, ordered like the related model's
    # default ordering (which is what the API's prefetch returns): names for tags, ids otherwise.
    arrays = []
    for i, m2m in enumerate(m2m_fields):
        related: Any = m2m.related_model
        through_model: Any = m2m.remote_field.through
        through = qn(through_model._meta.db_table)
        value = "name" if m2m.name == "tags" else related._meta.pk.column
        alias = f"r{i}"
        arrays.append(
            f"ARRAY(SELECT {alias}.{qn(value)} FROM {through} x{i}"
            f" JOIN {qn(related._meta.db_table)} {alias} ON {alias}.{qn(related._meta.pk.column)} ="
            f" x{i}.{qn(m2m.m2m_reverse_name())}"
            f" WHERE x{i}.{qn(m2m.m2m_column_name())} = t.id ORDER BY {_order_by(related, alias)})"
        )
    table = qn(meta.db_table)
    columns = ", ".join(f"t.{qn(f.column)}" for f in scalar_fields)
    return FloorSQL(
        scalar_names=tuple(f.name for f in scalar_fields),
        datetime_positions=tuple(i for i, f in enumerate(scalar_fields) if isinstance(f, DateTimeField)),
        m2m_names=tuple(f.name for f in m2m_fields),
        count=f"SELECT COUNT(*) FROM {table}",
        page=f"SELECT {columns} FROM {table} t ORDER BY {_order_by(Technology, 't')} LIMIT %s OFFSET %s",
        related=f"SELECT t.id, {', '.join(arrays)} FROM unnest(%s::bigint[]) AS t(id)",
    )


def _iso(value: datetime) -> str:
    # As rest_framework.fields.DateTimeField renders it (UTC as "Z").
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _unauthorized() -> HttpResponse:
    response = JsonResponse({"detail": "Authentication credentials were not provided or are invalid."}, status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


def technology_list_floor(request: HttpRequest) -> HttpResponse:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    api_key = authenticate_key(key.strip()) if scheme.lower() == "bearer" and key else None
    if api_key is None or not api_key.user.is_active:
        return _unauthorized()
    try:
        page_size = min(max(int(request.GET.get("page_size", StandardPagination.page_size)), 1), 100)
        page = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        return JsonResponse({"detail": "page and page_size must be whole numbers."}, status=400)

    sql = floor_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql.count)
        (count,) = cursor.fetchone()
        cursor.execute(sql.page, [page_size, (page - 1) * page_size])
        rows = cursor.fetchall()
        related: dict[int, tuple[Any, ...]] = {}
        if rows:
            cursor.execute(sql.related, [[row[0] for row in rows]])
            related = {row[0]: row[1:] for row in cursor.fetchall()}

    names, m2m_names, dt_positions = sql.scalar_names, sql.m2m_names, sql.datetime_positions
    results = []
    for row in rows:
        values = list(row)
        for i in dt_positions:
            if values[i] is not None:
                values[i] = _iso(values[i])
        item = dict(zip(names, values, strict=True))
        item.update(zip(m2m_names, related[row[0]], strict=True))
        results.append(item)

    url = request.build_absolute_uri()
    body = {
        "count": count,
        "next": replace_query_param(url, "page", page + 1) if page * page_size < count else None,
        "previous": (
            None
            if page == 1
            else remove_query_param(url, "page")
            if page == 2
            else replace_query_param(url, "page", page - 1)
        ),
        "results": results,
    }
    return HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), content_type="application/json"
    )


# --- stock DRF --------------------------------------------------------------------------------


class StockTechnologySerializer(serializers.ModelSerializer[Technology]):
    tags = serializers.SlugRelatedField[Tag](many=True, slug_field="name", read_only=True)
    repositories = serializers.PrimaryKeyRelatedField[Repository](many=True, read_only=True)

    class Meta:
        model = Technology
        fields = list(TechnologySerializer.Meta.fields)
        read_only_fields = list(TechnologySerializer.Meta.read_only_fields)


class StockTechnologyListView(generics.ListAPIView[Technology]):
    queryset = Technology.objects.prefetch_related("tags", "repositories")
    serializer_class = StockTechnologySerializer
    pagination_class = StandardPagination


# --- trivial ----------------------------------------------------------------------------------


def trivial(request: HttpRequest) -> HttpResponse:
    """A tiny plain-text answer without database or cache access."""
    return HttpResponse(b"ok\n", content_type="text/plain")
