"""The project's URLs plus the bench-only views: two variants of the technology list and a trivial view."""

from django.urls import include, path

from benchmarks.views import StockTechnologyListView, technology_list_floor, trivial

urlpatterns = [
    path("bench/technologies/floor/", technology_list_floor, name="bench-technologies-floor"),
    path("bench/technologies/stock/", StockTechnologyListView.as_view(), name="bench-technologies-stock"),
    path("bench/trivial/", trivial, name="bench-trivial"),
    path("", include("commandcenter.urls")),
]
