"""Change-list exports (CSV, JSON) and imports (CSV) in the admin, with django-import-export.

An export holds exactly the rows the change list shows: its filters, search and ordering
travel in the Export link's query string. Permissions: ``view`` to export, ``add`` to import
(``IMPORT_EXPORT_*_PERMISSION_CODE`` in the settings).
"""

from __future__ import annotations

from typing import Any

import tablib
from import_export.admin import ExportMixin, ImportExportMixin
from import_export.formats.base_formats import CSV, JSON
from import_export.forms import ExportForm

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text starting like a formula, prefixed with an apostrophe: shown as text."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


class SpreadsheetSafeCSV(CSV):
    """CSV in which no cell starts like a formula: a spreadsheet opening the file would
    otherwise run ``=HYPERLINK(...)`` typed into a description (CSV injection)."""

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> Any:
        safe = tablib.Dataset(*(tuple(spreadsheet_safe(v) for v in row) for row in dataset), headers=dataset.headers)
        return super().export_data(safe, **kwargs)


EXPORT_FORMATS = [SpreadsheetSafeCSV, JSON]
IMPORT_FORMATS = [CSV]


class ExportAdminMixin(ExportMixin):
    """Adds *Export* to a change list (a ``resource_classes`` attribute names the columns)."""

    export_formats = EXPORT_FORMATS
    # The plain form: the field-picking one relies on an inline event handler the CSP refuses.
    export_form_class = ExportForm


class ImportExportAdminMixin(ImportExportMixin):
    """*Import* (upload, preview with each row's errors, confirm) and *Export*."""

    export_formats = EXPORT_FORMATS
    import_formats = IMPORT_FORMATS
    export_form_class = ExportForm
