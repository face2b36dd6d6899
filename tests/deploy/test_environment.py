"""Every variable of the compose files and of the application is documented: in
deploy/.env.prod.example (with a comment line above it) and in the README."""

from __future__ import annotations

import re

from tests.test_environment_documented import variables_read

from .helpers import DEV_COMPOSE, ENV_EXAMPLE, PROD_COMPOSE, README, documented_in_example, variables_used

ASSIGNMENT = re.compile(r"^#?\s?[A-Z][A-Z0-9_]*=")


def test_the_scan_finds_the_compose_variables():
    assert {"DOMAIN", "ACME_EMAIL", "DB_PASSWORD", "TRAEFIK_DASHBOARD_USER", "COMPOSE_PROJECT_NAME"} <= variables_used(
        PROD_COMPOSE
    )


def test_every_compose_variable_is_in_the_example_env_file():
    missing = sorted(variables_used(PROD_COMPOSE) - set(documented_in_example()))
    assert missing == [], f"used by docker-compose.prod.yml but not in {ENV_EXAMPLE.name}: {missing}"


def test_every_compose_variable_is_documented_in_the_readme():
    readme = README.read_text()
    used = variables_used(PROD_COMPOSE, DEV_COMPOSE)
    missing = sorted(name for name in used if f"`{name}`" not in readme)
    assert missing == [], f"used by the compose files but not documented in README.md: {missing}"


def test_every_variable_the_application_reads_is_in_the_example_env_file():
    missing = sorted(variables_read() - set(documented_in_example()))
    assert missing == [], f"read by the code but not in {ENV_EXAMPLE.name}: {missing}"


def test_every_example_variable_has_a_comment_line_above_it():
    for name, above in documented_in_example().items():
        assert above.startswith("#"), name
        assert ASSIGNMENT.match(above) is None, f"{name}: the line above is another variable, not its comment"
