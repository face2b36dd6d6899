#!/usr/bin/env bash
# Shared by the wrappers: run a manage.py command inside the backend service of the compose
# deployment when it is running, else with this checkout's virtualenv.
#
# COMMANDCENTER_COMPOSE_FILE: the compose file (default deploy/docker-compose.prod.yml).
# COMMANDCENTER_ENV_FILE: the env file its variables come from (default deploy/.env.prod,
# passed as --env-file when it exists; give an absolute path).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
compose_file="${COMMANDCENTER_COMPOSE_FILE:-$root/deploy/docker-compose.prod.yml}"
env_file="${COMMANDCENTER_ENV_FILE:-$root/deploy/.env.prod}"

manage() {
  if [ -f "$compose_file" ] && command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    local compose=(docker compose -f "$compose_file")
    if [ -f "$env_file" ]; then
      compose+=(--env-file "$env_file")
    fi
    if [ -n "$("${compose[@]}" ps --status running --quiet backend 2>/dev/null)" ]; then
      exec "${compose[@]}" exec -T backend python manage.py "$@"
    fi
  fi
  exec "$root/.venv/bin/python" "$root/manage.py" "$@"
}
