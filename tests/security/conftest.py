from __future__ import annotations

from typing import Any

import pytest

from tests.security.production import ProductionSite, build_site


@pytest.fixture(scope="session")
def production_site(tmp_path_factory: pytest.TempPathFactory) -> ProductionSite:
    """Static files collected, database migrated, a superuser: under production settings."""
    return build_site(tmp_path_factory.mktemp("production"))


@pytest.fixture(scope="session")
def production_answers(production_site: ProductionSite) -> dict[str, Any]:
    return production_site.requests()
