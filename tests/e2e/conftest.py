"""A real browser (Debian's chromium, driven by Playwright) against the live server.

Screenshots: every step when E2E_SCREENSHOTS=1, and the last page of any failing test,
under tests/e2e/screenshots/.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls
# (reading the outbox, checking rows) are plain synchronous code all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide chromium (.ci/run installs it with apt)")
        pytest.skip("no chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Shots:
    """Saves a screenshot of each step when E2E_SCREENSHOTS=1."""

    def __init__(self, page, test_name: str) -> None:
        self.page, self.test_name, self.count = page, test_name, 0
        self.enabled = os.environ.get("E2E_SCREENSHOTS") == "1"

    def __call__(self, step: str) -> None:
        if self.enabled:
            self.count += 1
            self.save(f"{self.count:02d}-{step}")

    def save(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        safe = re.sub(r"[^\w-]", "_", f"{self.test_name}-{name}")
        self.page.screenshot(path=str(SCREENSHOTS / f"{safe}.png"), full_page=True)


@pytest.fixture
def page(browser, request, settings, live_server):
    settings.USERACCOUNTS_RATE_LIMITS = False
    settings.USERACCOUNTS_SITE_URL = live_server.url  # emailed links point at the server
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.shots = Shots(page, request.node.name)
    yield page
    if getattr(request.node, "e2e_failed", False):
        page.shots.save("FAILED")
    context.close()
