#!/usr/bin/env bash
# Restore a backup set: restore.sh [TIMESTAMP] [--yes] [--only postgres,rag,redis] [--no-safety-backup]
# Without a timestamp: the latest complete set. Every checksum is verified first.
set -euo pipefail
# shellcheck source=deploy/scripts/_manage.sh
source "$(dirname "${BASH_SOURCE[0]}")/_manage.sh"
manage restore "$@"
