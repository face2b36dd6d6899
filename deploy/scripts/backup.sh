#!/usr/bin/env bash
# Take a backup set now: manage.py backup [--only postgres,rag,redis]
set -euo pipefail
# shellcheck source=deploy/scripts/_manage.sh
source "$(dirname "${BASH_SOURCE[0]}")/_manage.sh"
manage backup "$@"
