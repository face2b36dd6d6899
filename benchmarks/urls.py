"""The project's URLs plus the two bench-only variants of the technology list."""

from django.urls import include, path

from benchmarks.views import StockTechnologyListView, technology_list_floor

urlpatterns = [
    path("bench/technologies/floor/", technology_list_floor, name="bench-technologies-floor"),
    path("bench/technologies/stock/", StockTechnologyListView.as_view(), name="bench-technologies-stock"),
    path("", include("commandcenter.urls")),
]
