#!/usr/bin/env bash
# Shared by the wrappers: run a manage.py command inside the backend service of the compose
# deployment when there is one, else with this checkout's virtualenv.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
compose_file="${COMMANDCENTER_COMPOSE_FILE:-$root/deploy/docker-compose.prod.yml}"

manage() {
  if [ -f "$compose_file" ] && command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    exec docker compose -f "$compose_file" exec -T backend python manage.py "$@"
  fi
  exec "$root/.venv/bin/python" "$root/manage.py" "$@"
}
