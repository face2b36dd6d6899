"""The production settings, exercised in a subprocess through the whole middleware stack:
the requests of Prometheus and of the Docker healthcheck, the TLS redirect, the security
headers, cookies, CORS, the configurable admin path, hashed static files, the login lockout
behind the proxy, ``check --deploy``, database TLS options and secrets from files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.security.production import ADMIN_URL, CORS_ORIGIN, ProductionSite, manage, production_env, run

pytestmark = pytest.mark.slow


def header(answer: dict[str, Any], name: str) -> str | None:
    for key, value in answer["headers"].items():
        if key.lower() == name.lower():
            return str(value)
    return None


def csp_directives(answer: dict[str, Any]) -> dict[str, list[str]]:
    policy = header(answer, "Content-Security-Policy") or ""
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_it_answers_prometheus_scraping_the_container_ip(production_answers):
    answer = production_answers["prometheus"]
    assert answer["status"] == 200
    assert header(answer, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    assert "commandcenter_app_info" in answer["body"]


def test_it_answers_the_docker_healthcheck_on_loopback(production_answers):
    for name in ("docker_healthcheck", "localhost_health"):
        answer = production_answers[name]
        assert answer["status"] == 200, name
        body = json.loads(answer["body"])
        assert body["checks"]["database"]["status"] == "ok"
        assert body["status"] in {"ok", "degraded"}  # no backup yet: degraded, still 200


def test_it_refuses_metrics_from_outside_with_403_not_a_redirect(production_answers):
    assert production_answers["metrics_from_outside"]["status"] == 403


def test_it_redirects_plain_http_to_https(production_answers):
    answer = production_answers["admin_over_http"]
    assert answer["status"] == 301
    assert header(answer, "Location") == f"https://cc.example.com/{ADMIN_URL}login/"


def test_it_sends_hsts_for_a_year_with_subdomains_and_preload(production_answers):
    hsts = header(production_answers["admin_login"], "Strict-Transport-Security")
    assert hsts == "max-age=31536000; includeSubDomains; preload"


def test_it_sends_the_security_headers(production_answers):
    answer = production_answers["admin_login"]
    assert answer["status"] == 200
    assert header(answer, "X-Frame-Options") == "DENY"
    assert header(answer, "X-Content-Type-Options") == "nosniff"
    assert header(answer, "Referrer-Policy") == "same-origin"
    assert header(answer, "Cross-Origin-Opener-Policy") == "same-origin"
    permissions = header(answer, "Permissions-Policy") or ""
    assert {"camera=()", "microphone=()", "geolocation=()"} <= {p.strip() for p in permissions.split(",")}
    csp = csp_directives(answer)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]


def test_session_and_csrf_cookies_are_secure_and_http_only(production_answers):
    login = production_answers["login"]
    assert login["status"] == 302
    assert header(login, "Location") == f"/{ADMIN_URL}"
    for name in ("sessionid", "csrftoken"):
        assert login["cookies"][name]["secure"], name
        assert login["cookies"][name]["httponly"], name


def test_the_admin_lives_at_django_admin_url(production_answers):
    assert production_answers["admin_login"]["status"] == 200
    assert production_answers["default_admin_path"]["status"] == 404
    assert header(production_answers["root"], "Location") == f"/{ADMIN_URL}"


def test_an_unknown_host_is_refused(production_answers):
    assert production_answers["unknown_host"]["status"] == 400


def test_the_api_without_a_key_answers_401_bearer(production_answers):
    answer = production_answers["api_without_key"]
    assert answer["status"] == 401
    assert header(answer, "WWW-Authenticate") == "Bearer"


def test_cors_answers_only_the_configured_origins(production_answers):
    allowed = production_answers["cors_allowed_origin"]
    assert header(allowed, "Access-Control-Allow-Origin") == CORS_ORIGIN
    assert "authorization" in (header(allowed, "Access-Control-Allow-Headers") or "")
    assert header(allowed, "Access-Control-Allow-Credentials") is None
    assert header(production_answers["cors_other_origin"], "Access-Control-Allow-Origin") is None


def test_admin_and_api_docs_load_only_their_own_files_and_no_inline_script(production_answers):
    for page in ("admin_login", "docs"):
        body = production_answers[page]["body"]
        for tag in re.findall(r"<script\b[^>]*>", body):
            assert "src=" in tag or 'type="application/json"' in tag, f"inline script in {page}: {tag}"
    assets = production_answers["assets"]
    assert any("swagger-ui-bundle" in url for url in assets)
    for url, answer in assets.items():
        assert url.startswith("/"), f"{url} is not served by this app"
        assert not url.startswith("//"), f"{url} is not served by this app"
        assert answer["status"] in {200, 302}, url
    script = next(answer for url, answer in assets.items() if url.startswith("/api/docs/?script"))
    assert header(script, "Content-Type") == "application/javascript"


def test_static_files_are_hashed_and_precompressed(production_site: ProductionSite, production_answers):
    assert production_answers["settings"]["STATICFILES_STORAGE"].endswith("CompressedManifestStaticFilesStorage")
    css = [url for url in production_answers["assets"] if url.endswith(".css")]
    assert css
    assert all(re.search(r"\.[0-9a-f]{12}\.css$", url) for url in css)
    static_root = Path(production_site.env["STATIC_ROOT"])
    assert (static_root / "staticfiles.json").is_file()
    assert (static_root / css[0].removeprefix("/static/")).with_suffix(".css.gz").is_file()


def test_the_login_lockout_counts_the_client_the_proxy_saw(production_answers):
    # X-Forwarded-For "1.2.3.4, 198.51.100.66" through one proxy: the forged left hop is ignored.
    assert production_answers["axes"] == {"failed_from": ["198.51.100.66"], "logged_in_from": ["198.51.100.7"]}
    # The API throttles count clients by the same rule.
    assert production_answers["settings"]["NUM_PROXIES"] == production_answers["settings"]["DRF_NUM_PROXIES"] == 1


def test_check_deploy_reports_no_issues(production_site: ProductionSite):
    result = manage(production_site.env, "check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues (0 silenced)." in result.stdout + result.stderr


SHOW_DATABASE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({k: db.get(k) for k in ('ENGINE', 'OPTIONS', 'CONN_MAX_AGE', 'CONN_HEALTH_CHECKS')}))"
)


def test_database_url_options_reach_the_driver(tmp_path):
    url = "postgres://cc:pw@db.internal:5432/cc?sslmode=verify-full&sslrootcert=/run/secrets/db-ca.pem"
    shown = json.loads(run(production_env(tmp_path, DATABASE_URL=url), "-c", SHOW_DATABASE).stdout)
    assert shown["OPTIONS"]["sslmode"] == "verify-full"
    assert shown["OPTIONS"]["sslrootcert"] == "/run/secrets/db-ca.pem"
    assert shown["CONN_MAX_AGE"] == 60
    assert shown["CONN_HEALTH_CHECKS"] is True


def test_db_conn_max_age_is_configurable(tmp_path):
    env = production_env(tmp_path, DATABASE_URL="postgres://cc:pw@db:5432/cc", DB_CONN_MAX_AGE="0")
    assert json.loads(run(env, "-c", SHOW_DATABASE).stdout)["CONN_MAX_AGE"] == 0


SSL_STATE = (
    "import django; django.setup(); from django.db import connection\n"
    "try:\n"
    "    cursor = connection.cursor()\n"
    "except Exception as exc:\n"
    "    print('refused:', exc)\n"
    "else:\n"
    "    cursor.execute('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')\n"
    "    print('ssl:', cursor.fetchone()[0])\n"
)


@pytest.mark.postgres
def test_sslmode_require_is_enforced_by_the_driver(postgres_url, tmp_path):
    parts = urlsplit(postgres_url)
    url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "sslmode=require", ""))
    output = run(production_env(tmp_path, DATABASE_URL=url), "-c", SSL_STATE).stdout
    # A server with TLS: the session is encrypted. Without: libpq refuses to connect in clear.
    assert output.strip() in {"ssl: True"} or (output.startswith("refused:") and "SSL" in output), output


def test_secrets_can_come_from_files(tmp_path):
    value = "f" * 20 + "-from-a-docker-secret-" + "9" * 20
    secret = tmp_path / "secret_key"
    secret.write_text(value + "\n")  # as `echo` writes it
    basic_auth = tmp_path / "metrics_auth"
    basic_auth.write_text("prometheus:s3cret\r\n")
    env = production_env(tmp_path, SECRET_KEY_FILE=str(secret), METRICS_BASIC_AUTH_FILE=str(basic_auth))
    del env["SECRET_KEY"]
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.SECRET_KEY, settings.METRICS_BASIC_AUTH]))"
    )
    assert json.loads(run(env, "-c", code).stdout) == [value, "prometheus:s3cret"]


def test_the_redirect_and_the_proxy_count_follow_the_environment(tmp_path):
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.SECURE_SSL_REDIRECT, settings.NUM_PROXIES, "
        "settings.REST_FRAMEWORK['NUM_PROXIES']]))"
    )
    assert json.loads(run(production_env(tmp_path), "-c", code).stdout) == [True, 1, 1]
    env = production_env(tmp_path, SECURE_SSL_REDIRECT="false", NUM_PROXIES="2")
    assert json.loads(run(env, "-c", code).stdout) == [False, 2, 2]
