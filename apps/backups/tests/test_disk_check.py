"""manage.py doctor's ``backup_disk`` check: free space where backups are written."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest
from django.test import override_settings

from apps.backups import health
from apps.backups.health import GIB, check_backup_disk, disk_space_result
from commandcenter.health import FAIL, OK, WARN

Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize(
    ("total", "free", "status"),
    [
        (100 * GIB, 40 * GIB, OK),
        (100 * GIB, 9 * GIB, WARN),  # under 10 %
        (5 * GIB, 0.9 * GIB, WARN),  # 18 %, but under 1 GiB
        (100 * GIB, 1.5 * GIB, FAIL),  # under 2 %
    ],
)
def test_it_grades_the_free_space(total, free, status):
    assert disk_space_result(int(total), int(free), "/backups").status == status


def test_it_measures_backup_dir(tmp_path, monkeypatch):
    measured = []

    def usage(path):
        measured.append(path)
        return Usage(100 * GIB, 97 * GIB, 3 * GIB)

    monkeypatch.setattr(health.shutil, "disk_usage", usage)
    with override_settings(BACKUP_DIR=tmp_path):
        result = check_backup_disk()
    assert measured == [tmp_path]
    assert result.status == WARN
    assert result.detail.startswith(f"3.0 GiB free of 100.0 GiB (3%) at {tmp_path}")


def test_before_the_first_backup_it_measures_the_parent(tmp_path):
    with override_settings(BACKUP_DIR=tmp_path / "not" / "yet"):
        result = check_backup_disk()
    total, _used, free = shutil.disk_usage(tmp_path)
    assert result.status == disk_space_result(total, free, "").status
    assert f"at {tmp_path} (BACKUP_DIR {tmp_path / 'not' / 'yet'} does not exist yet)" in result.detail
