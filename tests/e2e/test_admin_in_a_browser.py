"""The admin as staff use it, in a real headless Chromium: log in, the dashboard, the radar,
a filtered change list and its export, a backup started from the admin; with no console
error (a CSP violation is one), at 1280x800, and with JavaScript turned off."""

from __future__ import annotations

import csv

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.technologies.choices import TechnologyStatus
from apps.technologies.models import Technology
from tests.e2e.conftest import HEIGHT, WIDTH, Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def placed_technologies() -> int:
    return Technology.objects.exclude(ring="").count()


def test_the_dashboard_shows_the_state_of_everything(browser: Browser):
    assert browser.driver.current_url.endswith("/admin/")
    for panel in ("#cc-backups", "#cc-health", "#cc-jobs", "#cc-sync-errors", "#cc-overdue", "#cc-activity"):
        assert browser.find(panel).is_displayed(), panel
    assert "grafana/loki" in browser.find("#cc-sync-errors").text
    assert "Last successful" in browser.find("#cc-backups").text
    assert browser.find("#cc-backups .cc-level").get_attribute("class").endswith("cc-level-ok")
    assert "run_research" in browser.find("#cc-jobs").text
    dots = browser.find_all("#cc-radar a.cc-blip")
    assert len(dots) == placed_technologies()
    assert dots[0].find_element(By.CSS_SELECTOR, "title").get_attribute("textContent").startswith("1. ")
    assert len(browser.find_all("#cc-research-chart svg rect title")) == 24  # 12 weeks, opened and completed
    assert len(browser.find_all("#cc-backup-size-chart svg rect title")) == 14
    # Usable at 1280x800: nothing wider than the window.
    assert browser.driver.execute_script("return document.documentElement.scrollWidth") <= WIDTH
    assert browser.driver.execute_script("return window.innerHeight") == HEIGHT
    browser.screenshot("dashboard.png", full_page=True)
    # A dot is a link to the technology's admin page.
    title = dots[0].find_element(By.CSS_SELECTOR, "title").get_attribute("textContent").split(" — ")[0][3:]
    dots[0].click()
    browser.wait_for("#technology_form")
    assert browser.find("#id_title").get_attribute("value") == title
    assert browser.console_errors() == []


def test_the_radar_filters_by_status_and_tag(browser: Browser):
    browser.find("#cc-radar h2 a").click()
    browser.wait_for(".cc-radar-figure svg")
    assert len(browser.find_all(".cc-radar-figure a.cc-blip")) == placed_technologies()
    browser.screenshot("radar.png")
    Select(browser.find("#id_status")).select_by_visible_text("Evaluation")
    browser.find(".cc-filters button[type=submit]").click()
    browser.wait_until(lambda driver: "status=evaluation" in driver.current_url)
    evaluated = Technology.objects.filter(status=TechnologyStatus.EVALUATION).exclude(ring="")
    shown = browser.find_all(".cc-radar-figure a.cc-blip")
    assert len(shown) == evaluated.count()
    Select(browser.find("#id_tags")).select_by_visible_text("vector-db")
    browser.find(".cc-filters button[type=submit]").click()
    browser.wait_until(lambda driver: "tags=vector-db" in driver.current_url)
    titles = {
        a.find_element(By.CSS_SELECTOR, "title").get_attribute("textContent")
        for a in browser.find_all(".cc-radar-figure a.cc-blip")
    }
    assert [t.split(" — ")[0].split(". ", 1)[1] for t in sorted(titles)] == ["ChromaDB"]
    assert browser.console_errors() == []


def test_a_filtered_change_list_exports_exactly_its_rows_as_csv(browser: Browser):
    browser.open("/admin/technologies/technology/")
    browser.driver.find_element(By.XPATH, "//nav[@id='changelist-filter']//a[normalize-space()='Evaluation']").click()
    browser.wait_until(lambda driver: "status__exact=evaluation" in driver.current_url)
    expected = sorted(Technology.objects.filter(status=TechnologyStatus.EVALUATION).values_list("title", flat=True))
    assert len(browser.find_all("#result_list tbody tr")) == len(expected)
    browser.find("a.export_link").click()
    browser.wait_for("select[name=format]")
    assert "status__exact=evaluation" in browser.driver.current_url
    Select(browser.find("select[name=format]")).select_by_visible_text("csv")
    browser.find("input[type=submit]").click()
    exported = browser.wait_for_download(".csv")
    rows = list(csv.DictReader(exported.read_text(encoding="utf-8").splitlines()))
    assert sorted(row["title"] for row in rows) == expected
    assert {row["status"] for row in rows} == {"evaluation"}
    assert browser.console_errors() == []


def test_a_backup_started_from_the_admin_is_queued_with_a_link_to_its_job(browser: Browser):
    browser.open("/admin/backups/backuprun/")
    browser.driver.find_element(By.XPATH, "//button[normalize-space()='Back up now']").click()
    message = browser.wait_for("ul.messagelist li.success")
    assert message.text == "Backup queued (job status)."
    job = Job.objects.get(name="apps.backups.tasks.run_backup")
    assert job.state == JobState.QUEUED  # the test broker has no worker: it stays queued
    link = message.find_element(By.LINK_TEXT, "job status")
    assert link.get_attribute("href").endswith(f"/api/v1/jobs/{job.task_id}/")
    link.click()
    browser.wait_until(lambda driver: job.task_id in driver.page_source and "queued" in driver.page_source)
    assert browser.console_errors() == []


def test_everything_works_with_javascript_turned_off(browser: Browser):
    browser.javascript(enabled=False)
    browser.open("/admin/")
    assert len(browser.find_all("#cc-radar a.cc-blip")) == placed_technologies()
    assert browser.find_all("#cc-backup-duration-chart svg polyline")
    browser.find("#cc-backups button[type=submit]").click()
    assert browser.wait_for("ul.messagelist li.success").text == "Backup queued (job status)."
    browser.open("/admin/technologies/radar/?status=archived")
    assert len(browser.find_all(".cc-radar-figure a.cc-blip")) == (
        Technology.objects.filter(status=TechnologyStatus.ARCHIVED).exclude(ring="").count()
    )
    assert browser.console_errors() == []
