#!/usr/bin/env bash
# Remove sets older than RETENTION_DAYS (never the newest complete one).
set -euo pipefail
# shellcheck source=deploy/scripts/_manage.sh
source "$(dirname "${BASH_SOURCE[0]}")/_manage.sh"
manage prune_backups "$@"
