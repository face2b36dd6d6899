"""``manage.py doctor``: is this a safe deployment? (Not part of ``/health``.)

``deploy_checks`` runs what ``manage.py check --deploy`` runs and counts what it reports;
``tls_settings`` looks at what those checks do not: the host list, the TLS redirect behind
the proxy, the trusted and CORS origins, the proxy count. Both are skipped with DEBUG on (a
development server), except that DEBUG with ``ENVIRONMENT=production`` is itself a failure.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from commandcenter.health import FAIL, OK, WARN, CheckResult, register

MAX_IDS_SHOWN = 8


def _ids(messages: list[checks.CheckMessage]) -> str:
    ids = sorted({message.id or message.msg[:40] for message in messages})
    more = f" and {len(ids) - MAX_IDS_SHOWN} more" if len(ids) > MAX_IDS_SHOWN else ""
    return ", ".join(ids[:MAX_IDS_SHOWN]) + more


def _debug_result() -> CheckResult:
    if settings.ENVIRONMENT == "production":
        return CheckResult(FAIL, "DEBUG is on with ENVIRONMENT=production: use config.settings.production")
    return CheckResult(OK, "skipped: DEBUG is on (development settings)")


@register("deploy_checks", doctor_only=True)
def check_deploy() -> CheckResult:
    if settings.DEBUG:
        return _debug_result()
    messages = [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.level >= checks.WARNING and not message.is_silenced()
    ]
    errors = [message for message in messages if message.level >= checks.ERROR]
    warnings = [message for message in messages if message.level < checks.ERROR]
    if errors:
        return CheckResult(
            FAIL,
            f"manage.py check --deploy: {len(errors)} error(s) ({_ids(errors)}), {len(warnings)} warning(s)",
        )
    if warnings:
        return CheckResult(WARN, f"manage.py check --deploy: {len(warnings)} warning(s): {_ids(warnings)}")
    return CheckResult(OK, "manage.py check --deploy: no issues")


def _not_https(origins: list[str]) -> list[str]:
    return [origin for origin in origins if not origin.startswith("https://")]


@register("tls_settings", doctor_only=True)
def check_tls_settings() -> CheckResult:
    if settings.DEBUG:
        return _debug_result()
    failures: list[str] = []
    warnings: list[str] = []
    if "*" in settings.ALLOWED_HOSTS:
        failures.append("ALLOWED_HOSTS contains '*' (any Host header is served: list the real names)")
    proxy_header: tuple[str, str] | None = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if settings.SECURE_SSL_REDIRECT and not proxy_header:
        failures.append(
            "SECURE_SSL_REDIRECT without SECURE_PROXY_SSL_HEADER (behind the TLS proxy every request "
            "would be redirected to itself)"
        )
    if not settings.SECURE_SSL_REDIRECT:
        warnings.append("SECURE_SSL_REDIRECT is off (plain HTTP requests are served)")
    if plain := _not_https(list(settings.CSRF_TRUSTED_ORIGINS)):
        warnings.append(f"CSRF_TRUSTED_ORIGINS not https: {', '.join(plain)}")
    if getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False):
        failures.append("CORS_ALLOW_ALL_ORIGINS is on (any web site may call the API from a browser)")
    if plain := _not_https(list(getattr(settings, "CORS_ALLOWED_ORIGINS", []))):
        warnings.append(f"CORS_ALLOWED_ORIGINS not https: {', '.join(plain)}")
    if proxy_header and settings.NUM_PROXIES == 0:
        warnings.append(
            "behind a proxy (SECURE_PROXY_SSL_HEADER) with NUM_PROXIES=0: the login lockout and the "
            "throttles see every client as the proxy"
        )
    if failures:
        return CheckResult(FAIL, "; ".join(failures + warnings))
    if warnings:
        return CheckResult(WARN, "; ".join(warnings))
    origins = len(settings.CSRF_TRUSTED_ORIGINS)
    header = proxy_header[0] if proxy_header else "no proxy header"
    return CheckResult(
        OK,
        f"hosts {', '.join(settings.ALLOWED_HOSTS)}; HTTPS redirect behind {header}; "
        f"{origins} trusted origin(s), all https; {settings.NUM_PROXIES} proxy(ies)",
    )
