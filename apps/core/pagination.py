from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class StandardPagination(PageNumberPagination):
    """``?page=N&page_size=M``; the body carries ``count``. page_size is capped at 100."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({"page_size": ["A whole number from 1 to 100 is required."]}) from None
        if value < 1:
            raise ValidationError({"page_size": ["A whole number from 1 to 100 is required."]})
        return min(value, self.max_page_size)
