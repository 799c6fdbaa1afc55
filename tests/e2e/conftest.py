"""A real browser (Debian's chromium, driven by Playwright) against the live server.

``page.check(step)`` looks at the page as it is now, as several people would: axe-core
(shipped inside the ``axe-playwright-python`` package, so nothing is fetched) at
1280 px and 390 px wide, in the light and the dark colour scheme, must find no
violation of WCAG 2.1 A and AA; and at 320 px the page must not scroll sideways.

Screenshots: each checked step at both widths in both schemes (and at 320 px) when
E2E_SCREENSHOTS=1, and the last page of any failing test, under tests/e2e/screenshots/.

The pages are the same whatever the database: the checks run on SQLite (with each user
model); on PostgreSQL the stories run without them, which keeps CI within its budget.
"""

import os
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest
from django.conf import settings

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
#: The viewports every step is checked at: a laptop and a phone.
VIEWPORTS = ({"width": 1280, "height": 800}, {"width": 390, "height": 844})
SCHEMES = ("light", "dark")
#: The narrowest screen the pages must fit without scrolling sideways (WCAG 1.4.10).
NARROWEST = 320
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


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


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's axe.min.js (MPL-2.0), as the axe-playwright-python package ships it."""
    try:
        return (resources.files("axe_playwright_python") / "axe.min.js").read_text("utf-8")
    except ModuleNotFoundError:
        pytest.fail(
            'the accessibility checks need axe-playwright-python: pip install -e ".[test]"'
        )


def axe_violations(page, axe_script: str) -> list[str]:
    """Each WCAG 2.1 A/AA violation axe-core finds on the page: id, impact, targets."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_script)
    results = page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + "; ".join(" ".join(map(str, node["target"])) for node in violation["nodes"])
        for violation in results["violations"]
    ]


class Check:
    """``check(step)``: axe-core at each viewport and colour scheme, no sideways
    scrolling at 320 px, and a screenshot of each when E2E_SCREENSHOTS=1."""

    def __init__(self, page, test_name: str, axe_script: str) -> None:
        self.page, self.test_name, self.axe_script, self.count = page, test_name, axe_script, 0
        self.screenshots = os.environ.get("E2E_SCREENSHOTS") == "1"

    #: The app's pages work without JavaScript (a front end's need not).
    scriptless = True

    def __call__(self, step: str) -> None:
        page = self.page
        self.count += 1
        if self.scriptless:
            assert page.locator("script").count() == 0, "the pages work without JavaScript"
        if not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            return
        viewport = page.viewport_size
        problems = []
        try:
            # Reduced motion: no transition is caught halfway by the contrast check.
            for size in VIEWPORTS:
                page.set_viewport_size(size)
                for scheme in SCHEMES:
                    page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
                    where = f"{size['width']}px, {scheme}"
                    problems += [f"{where}: {found}" for found in self.axe()]
                    if self.screenshots:
                        self.save(f"{self.count:02d}-{step}-{size['width']}-{scheme}")
            page.set_viewport_size({"width": NARROWEST, "height": 640})
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                problems.append(f"{NARROWEST}px: the page scrolls {overflow}px sideways")
            if self.screenshots:
                self.save(f"{self.count:02d}-{step}-{NARROWEST}")
        finally:
            page.set_viewport_size(viewport)
            page.emulate_media(color_scheme="null", reduced_motion="null")
        assert not problems, f"{step} ({page.url}):\n" + "\n".join(problems)

    def axe(self) -> list[str]:
        return axe_violations(self.page, self.axe_script)

    def save(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        safe = re.sub(r"[^\w-]", "_", f"{self.test_name}-{name}")
        self.page.screenshot(path=str(SCREENSHOTS / f"{safe}.png"), full_page=True)


@pytest.fixture
def new_page(browser, request, axe_script):
    """Opens a page in a new browser context (another browser, as far as the site can
    tell), with ``page.check``; closed at the end of the test."""
    contexts = []

    def new_page(name: str = "", **context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.check = Check(page, request.node.name + (f"-{name}" if name else ""), axe_script)
        return page

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page, request, settings, live_server):
    settings.USERACCOUNTS_RATE_LIMITS = False
    settings.USERACCOUNTS_SITE_URL = live_server.url  # emailed links point at the server
    page = new_page()
    yield page
    if getattr(request.node, "e2e_failed", False):
        page.check.save("FAILED")
