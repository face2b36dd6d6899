"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium
against pytest-django's live server, which runs with the test settings (the production CSP
included). Nothing is downloaded: the browser and the driver are given by path.

Without Chromium the tests are skipped with the reason; under CI=true that is a failure.
Screenshots go to ``E2E_ARTIFACTS`` (default ``var/e2e/``); with
``E2E_ARTIFACTS=docs/screenshots`` a run refreshes the README's pictures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import IN_CI
from tests.e2e.showcase import PASSWORD, load_showcase

ROOT = Path(__file__).resolve().parents[2]
# Debian's packages by default; another Chromium/Chrome build (the GitHub runner's) by environment.
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM") or "/usr/bin/chromium")
CHROMEDRIVER = Path(os.environ.get("E2E_CHROMEDRIVER") or "/usr/bin/chromedriver")
WIDTH, HEIGHT = 1280, 800


def artifacts_dir() -> Path:
    path = Path(os.environ.get("E2E_ARTIFACTS") or ROOT / "var" / "e2e")
    path = path if path.is_absolute() else ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        message = f"{', '.join(missing)} not installed (Debian packages: chromium chromium-driver)"
        if IN_CI:
            pytest.fail(f"{message}; under CI=true a missing browser is a failure")
        pytest.skip(message)


@dataclass
class Browser:
    driver: WebDriver
    downloads: Path
    base_url: str = ""

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, css: str, timeout: float = 10) -> Any:
        return WebDriverWait(self.driver, timeout).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
        )

    def wait_until(self, condition: Callable[[WebDriver], Any], timeout: float = 10) -> Any:
        return WebDriverWait(self.driver, timeout).until(condition)

    def console_errors(self) -> list[dict[str, Any]]:
        """Console messages at error level since the last call (reading empties the log)."""
        return [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]

    def javascript(self, *, enabled: bool) -> None:
        self.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": not enabled})

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        path = artifacts_dir() / name
        if full_page:
            height = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
            self._viewport(WIDTH, height)
            self.driver.save_screenshot(str(path))
            self._viewport(WIDTH, HEIGHT)
        else:
            self.driver.save_screenshot(str(path))
        return path

    def wait_for_download(self, suffix: str, timeout: float = 10) -> Path:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [p for p in self.downloads.iterdir() if p.name.endswith(suffix)]
            if done and not any(p.name.endswith(".crdownload") for p in self.downloads.iterdir()):
                return done[0]
            time.sleep(0.1)
        raise AssertionError(f"no {suffix} file downloaded into {self.downloads}: {list(self.downloads.iterdir())}")

    def _viewport(self, width: int, height: int) -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One browser for the module (starting it costs about a second)."""
    require_chromium()
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--lang=en-US",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser = Browser(driver, downloads)
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        browser._viewport(WIDTH, HEIGHT)
        yield browser
    finally:
        driver.quit()


@pytest.fixture
def showcase(transactional_db: None, settings: Any, tmp_path: Path) -> User:
    settings.BACKUP_DIR = tmp_path / "backups"
    return load_showcase()


@pytest.fixture
def browser(chromium: Browser, live_server: Any, showcase: User) -> Browser:
    """The module's browser, logged in as the showcase's admin through the login form."""
    chromium.base_url = live_server.url
    chromium.driver.delete_all_cookies()
    chromium.javascript(enabled=True)
    for path in chromium.downloads.iterdir():
        path.unlink()
    chromium.open("/admin/login/?next=/admin/")
    chromium.find("#id_username").send_keys(showcase.get_username())
    chromium.find("#id_password").send_keys(PASSWORD)
    chromium.find("input[type=submit]").click()
    chromium.wait_for("#cc-health")
    assert chromium.console_errors() == []
    return chromium
