"""Beat schedules built from cron strings given in the environment."""

from __future__ import annotations

from celery.schedules import crontab

DISABLED = {"disable", "disabled", "off", "none", ""}


def cron_schedule(expression: str) -> crontab | None:
    """Turn ``"m h dom mon dow"`` into a crontab; ``disable`` (or empty) gives ``None``.

    A malformed expression raises ``ValueError`` naming it, so a bad environment value
    stops the process at start-up instead of silently never running the job.
    """
    value = expression.strip()
    if value.lower() in DISABLED:
        return None
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            "'minute hour day-of-month month day-of-week', or 'disable'"
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        schedule = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except Exception as exc:  # celery raises several parse error types
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
    return schedule
