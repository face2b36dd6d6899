#!/usr/bin/env bash
# A cron alternative to Celery Beat for hosts that want one: installs
# /etc/cron.d/commandcenter-backup running backup.sh (then prune) at BACKUP_SCHEDULE,
# logging to /var/log/commandcenter-backup.log. With --remove, uninstalls it.
# Turn the Beat schedule off (BACKUP_SCHEDULE=disable in the app's environment) when using it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cron_dir="${CRON_DIR:-/etc/cron.d}"
log_file="${BACKUP_LOG:-/var/log/commandcenter-backup.log}"
schedule="${BACKUP_SCHEDULE:-0 2 * * *}"
target="$cron_dir/commandcenter-backup"

if [ "${1:-}" = "--remove" ]; then
  rm -f "$target"
  echo "removed $target"
  exit 0
fi
if [ "$(echo "$schedule" | wc -w)" -ne 5 ]; then
  echo "BACKUP_SCHEDULE must be a 5-field cron expression, got: $schedule" >&2
  exit 2
fi

mkdir -p "$cron_dir"
tmp="$(mktemp "$cron_dir/.commandcenter-backup.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
{
  echo "# Command Center backups (installed by $here/setup-backup-cron.sh)"
  echo "SHELL=/bin/bash"
  echo "$schedule root $here/backup.sh >> $log_file 2>&1 && $here/_prune.sh >> $log_file 2>&1"
} > "$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$target"
trap - EXIT
echo "installed $target: $schedule, log $log_file"
