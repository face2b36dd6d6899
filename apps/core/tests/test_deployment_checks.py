"""manage.py doctor's ``deploy_checks`` and ``tls_settings`` (commandcenter/deployment.py)."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from commandcenter import deployment
from commandcenter.deployment import check_deploy, check_tls_settings
from commandcenter.health import FAIL, OK, WARN

PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SAFE = {
    "ALLOWED_HOSTS": ["cc.example.com"],
    "SECURE_SSL_REDIRECT": True,
    "SECURE_PROXY_SSL_HEADER": PROXY_HEADER,
    "CSRF_TRUSTED_ORIGINS": ["https://cc.example.com"],
    "CORS_ALLOWED_ORIGINS": ["https://app.example.com"],
    "NUM_PROXIES": 1,
}
SECURE_DEPLOY = {
    **SAFE,
    "SECRET_KEY": "p7Jw2-vQ9sZk4Lr8Xy1Tn6Hb3Fd0Gm5Cq_Ae7Ru2Wi9Oo4Ps1Dl8Kj3Nx6Mz0Vb5Yt",
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


def test_deploy_checks_count_what_check_deploy_reports():
    # The test settings are not a deployment: no HSTS, no redirect, a development key.
    result = check_deploy()
    assert result.status == WARN
    assert result.detail.startswith("manage.py check --deploy: ")
    for missing in ("security.W004", "security.W008", "security.W009", "security.W012", "security.W016"):
        assert missing in result.detail


@override_settings(**SECURE_DEPLOY)
def test_deploy_checks_pass_on_a_secure_configuration():
    assert check_deploy() == deployment.CheckResult(OK, "manage.py check --deploy: no issues")


def test_deploy_check_errors_fail(monkeypatch):
    found = [checks.Error("broken", id="demo.E001"), checks.Warning("odd", id="demo.W001")]
    monkeypatch.setattr(deployment.checks, "run_checks", lambda **kwargs: found)
    result = check_deploy()
    assert result.status == FAIL
    assert result.detail == "manage.py check --deploy: 1 error(s) (demo.E001), 1 warning(s)"


@override_settings(DEBUG=True)
def test_a_development_server_is_not_checked():
    assert check_deploy().status == OK
    assert check_tls_settings().detail == "skipped: DEBUG is on (development settings)"


@override_settings(DEBUG=True, ENVIRONMENT="production")
def test_debug_in_production_fails():
    assert check_deploy().status == FAIL
    assert check_tls_settings().status == FAIL


@override_settings(**SAFE)
def test_tls_settings_pass_behind_the_proxy():
    result = check_tls_settings()
    assert result.status == OK
    assert "HTTPS redirect behind HTTP_X_FORWARDED_PROTO" in result.detail


@pytest.mark.parametrize(
    ("override", "status", "message"),
    [
        ({"ALLOWED_HOSTS": ["*"]}, FAIL, "ALLOWED_HOSTS contains '*'"),
        ({"SECURE_PROXY_SSL_HEADER": None}, FAIL, "SECURE_SSL_REDIRECT without SECURE_PROXY_SSL_HEADER"),
        ({"SECURE_SSL_REDIRECT": False}, WARN, "SECURE_SSL_REDIRECT is off"),
        ({"CSRF_TRUSTED_ORIGINS": ["http://cc.example.com"]}, WARN, "CSRF_TRUSTED_ORIGINS not https"),
        ({"CORS_ALLOWED_ORIGINS": ["http://app.example.com"]}, WARN, "CORS_ALLOWED_ORIGINS not https"),
        ({"CORS_ALLOW_ALL_ORIGINS": True}, FAIL, "CORS_ALLOW_ALL_ORIGINS is on"),
        ({"NUM_PROXIES": 0}, WARN, "NUM_PROXIES=0"),
    ],
)
def test_tls_settings_name_each_problem(override, status, message):
    with override_settings(**{**SAFE, **override}):
        result = check_tls_settings()
    assert result.status == status
    assert message in result.detail
