import pytest

from commandcenter.schedules import cron_schedule


def test_it_parses_cron_expressions():
    schedule = cron_schedule("0 2 * * *")
    assert schedule is not None
    assert "0 2 * * *" in repr(schedule)
    assert cron_schedule("*/15 * * * 1-5") == cron_schedule("*/15 * * * mon-fri")


@pytest.mark.parametrize("value", ["disable", "DISABLE", "off", ""])
def test_it_disables(value):
    assert cron_schedule(value) is None


@pytest.mark.parametrize("value", ["0 2 * *", "every day", "99 2 * * *"])
def test_it_rejects_malformed_expressions(value):
    with pytest.raises(ValueError, match="invalid cron expression"):
        cron_schedule(value)
