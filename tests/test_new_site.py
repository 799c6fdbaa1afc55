"""A brand-new site made from README.rst alone, in a real browser.

``django-admin startproject mysite`` in an empty directory, the built wheel installed in
a fresh venv (offline), the quickstart's code blocks applied as README.rst has them now
(the settings block appended to ``mysite/settings.py``, its ``INSTALLED_APPS`` in place
of the project's; the urls block merged into ``mysite/urls.py``; ``myapp/signals.py`` and
``myapp/apps.py`` as written), ``migrate``, ``createsuperuser``, then ``runserver``: a
person signs up, confirms with the link printed on the server's console, logs in and
lands on the account page, logs out, resets the password, logs in with the new one, and
the superuser logs in by username and by email. When the README and the app disagree (a
backend that cannot send, a setting the app refuses, a redirect to a page nobody
serves), a step fails.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.test_first_hour import SETTINGS_BLOCK, URLS_BLOCK, quickstart_block
from tests.test_packaging import build_wheel, only_once, venv_with_wheel

pytestmark = [pytest.mark.packaging, only_once]

FIRST, SECOND = "a first long passphrase", "a second long passphrase"
ROOT_PASSWORD = "the superuser's long passphrase"
#: What the test suite sets in its own environment, which a new site does not have.
SUITE_ENVIRONMENT = {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DJANGO_ALLOW_ASYNC_UNSAFE"}
CONSOLE_SEPARATOR = "\n" + "-" * 79 + "\n"  # what the console backend prints after a mail


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


# Making the site from the README --------------------------------------------------------


def site_env(**extra: str) -> dict[str, str]:
    """The environment of the new site's commands: nothing of the test suite's."""
    env = {k: v for k, v in os.environ.items() if k not in SUITE_ENVIRONMENT}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def run(python: Path, *args: str, cwd: Path, **env: str) -> str:
    result = subprocess.run(
        [str(python), *args],
        cwd=cwd,
        env=site_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def apply_settings_block(settings_py: Path) -> None:
    """README's settings block at the end of settings.py; where it defines
    ``INSTALLED_APPS``, the project's own list goes (a second one would hide the first)."""
    block = quickstart_block(after=SETTINGS_BLOCK)
    text = settings_py.read_text()
    if re.search(r"^INSTALLED_APPS = ", block, re.M):
        text, count = re.subn(r"^INSTALLED_APPS = \[\n.*?^\]\n", "", text, flags=re.M | re.S)
        assert count == 1, "startproject's settings.py has no INSTALLED_APPS list"
    text += "\n# README.rst, Add it to your project:\n" + block
    # The app of README's signals example, as a project lists its own apps.
    text += '\nINSTALLED_APPS += ["myapp"]\n'
    settings_py.write_text(text)


def apply_urls_block(urls_py: Path) -> None:
    """README's urls block merged into urls.py: its imports before the project's
    ``urlpatterns``, its entries into that list, its other lines after it."""
    block = quickstart_block(after=URLS_BLOCK)
    match = re.search(r"^urlpatterns = \[\n(.*?)^\]\n", block, re.M | re.S)
    assert match, "README's urls block has no urlpatterns list"
    entries = [line for line in match[1].splitlines() if line.strip() != "# ..."]
    rest = (block[: match.start()] + block[match.end() :]).splitlines()
    imports = [line for line in rest if line.startswith(("from ", "import "))]
    others = [line for line in rest if line not in imports]
    text, count = re.subn(
        r"^urlpatterns = \[\n",
        lambda _: "\n".join([*imports, "", "urlpatterns = [", *entries, ""]),
        urls_py.read_text(),
        flags=re.M,
    )
    assert count == 1, "startproject's urls.py has no urlpatterns list"
    urls_py.write_text(text + "\n" + "\n".join(others) + "\n")


def make_site(python: Path, empty: Path) -> Path:
    """``django-admin startproject mysite`` in the directory ``empty``, then README."""
    run(python, "-m", "django", "startproject", "mysite", cwd=empty)
    where = empty / "mysite"
    run(python, "manage.py", "startapp", "myapp", cwd=where)
    for name in ("signals", "apps"):
        code = quickstart_block(first_line=f"# myapp/{name}.py")
        (where / "myapp" / f"{name}.py").write_text(code)
    apply_settings_block(where / "mysite" / "settings.py")
    apply_urls_block(where / "mysite" / "urls.py")
    return where


# Reading the console ------------------------------------------------------------------


def console_emails(stdout: Path) -> list[email.message.EmailMessage]:
    """Every message the console email backend printed, parsed."""
    messages = []
    for chunk in stdout.read_text(errors="replace").split(CONSOLE_SEPARATOR):
        start = re.search(r"^Content-Type: ", chunk, re.M)
        if start:
            messages.append(
                email.message_from_string(chunk[start.start() :], policy=email.policy.default)
            )
    return messages


def emailed_link(stdout: Path, to: str, path: str) -> str:
    """The link to ``path...`` in the newest email to ``to`` (waiting for it a little)."""
    deadline = time.monotonic() + 15
    while True:
        for message in reversed(console_emails(stdout)):
            if message["To"] == to:
                text = message.get_body(preferencelist=("plain",)).get_content()
                links = [link for link in re.findall(r"https?://\S+", text) if path in link]
                if links:
                    return links[0]
        assert time.monotonic() < deadline, f"no email to {to} with a link to {path}"
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_served(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"runserver did not answer at {url}:\n{log.read_text()}")
            time.sleep(0.3)


# The browser ---------------------------------------------------------------------------


@pytest.fixture
def chromium():
    """The launch arguments of the browser tests' chromium (``tests/e2e``)."""
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide chromium (.ci/run installs it with apt)")
        pytest.skip("no chromium: apt-get install chromium")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def in_browser(chromium: dict, walk) -> None:
    """``walk(page)`` in a new chromium page, in a thread of its own: the browser tests'
    session-wide Playwright may hold this thread's event loop, and Playwright's sync API
    runs one per thread."""

    def drive() -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**chromium)
            try:
                page = browser.new_context().new_page()
                page.set_default_timeout(20_000)
                walk(page)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(drive).result()  # a failed step raises here


def submit(page, locator, *, lands_on: str, status: int | None = 200):
    """Submit a form (Enter in ``locator``'s field, or a click on a button) and wait for
    the page ``lands_on`` (a URL, or a pattern); it must answer ``status``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        with page.expect_navigation(url=lands_on) as navigation:
            if locator.evaluate("el => el.tagName") == "INPUT":
                locator.press("Enter")
            else:
                locator.click()
    except PlaywrightTimeout:
        text = page.locator("body").inner_text()
        pytest.fail(f"not on {lands_on} but on {page.url}, which says:\n{text[:2000]}")
    response = navigation.value
    if status is not None:
        assert response is not None and response.status == status, (page.url, page.content())
    return response


def log_in(page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.locator("[name=login]").fill(login)
    page.locator("[name=password]").fill(password)
    # Not Django's /accounts/profile/ (a 404 here): the app's account page.
    submit(page, page.locator("[name=password]"), lands_on=f"{base}/accounts/account/")


def log_out(page, base: str) -> None:
    page.goto(f"{base}/accounts/logout/")
    # "/", the site's home page: a new project has none yet, so no status to expect.
    button = page.locator("form[action='/accounts/logout/'] [type=submit]").first
    submit(page, button, lands_on=f"{base}/", status=None)
    page.goto(f"{base}/accounts/account/")
    assert page.url.startswith(f"{base}/accounts/login/?next="), page.url  # LOGIN_URL


# The test ------------------------------------------------------------------------------


def test_a_new_site_works_from_the_readme_alone(wheel, tmp_path, chromium):
    python = venv_with_wheel(tmp_path / "venv", wheel, dependencies=True)
    (tmp_path / "projects").mkdir()
    site = make_site(python, tmp_path / "projects")
    where = run(python, "-c", "import useraccounts; print(useraccounts.__file__)", cwd=site)
    assert where.startswith(str(tmp_path / "venv")), where  # the wheel, not the source tree

    run(python, "manage.py", "migrate", cwd=site)
    run(
        python,
        *("manage.py", "createsuperuser", "--no-input", "--username", "root"),
        *("--email", "root@example.com"),
        cwd=site,
        DJANGO_SUPERUSER_PASSWORD=ROOT_PASSWORD,
    )
    # The receiver in myapp/signals.py is connected once Django has started.
    receivers = run(
        python,
        *("manage.py", "shell", "-c"),
        "from django.contrib.auth import get_user_model\n"
        "from useraccounts.signals import user_signed_up\n"
        "found = user_signed_up.send(sender=get_user_model(), request=None, user=None)\n"
        "print([f'{r.__module__}.{r.__name__}' for r, _ in found])",
        cwd=site,
    )
    assert "myapp.signals.welcome" in receivers, receivers

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stdout, stderr = tmp_path / "runserver.out", tmp_path / "runserver.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(
            [str(python), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=site,
            env=site_env(),
            stdout=out,
            stderr=err,
        )
    try:
        wait_until_served(f"{base}/accounts/login/", server, stderr)
        in_browser(chromium, lambda page: walk(page, base, stdout))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in stderr.read_text(), stderr.read_text()
    # What README says of check --deploy holds on this site: its cache and its email
    # backend are development ones.
    deploy = run(python, "manage.py", "check", "--deploy", cwd=site)
    assert "useraccounts.W002" in deploy and "useraccounts.W003" in deploy, deploy


def walk(page, base: str, console: Path) -> None:
    # Signup: "check your inbox", and the link is on runserver's console.
    page.goto(f"{base}/accounts/signup/")
    page.locator("[name=username]").fill("alice")
    page.locator("[name=email]").fill("alice@example.com")
    page.locator("[name=password1]").fill(FIRST)
    page.locator("[name=password2]").fill(FIRST)
    submit(page, page.locator("[name=password2]"), lands_on=f"{base}/accounts/confirm-email/sent/")
    link = emailed_link(console, "alice@example.com", "/accounts/confirm-email/")
    assert link.startswith(f"{base}/")

    # Confirm: this browser signed up, so the button is enough.
    page.goto(link)
    confirm = page.locator("form[method=post]:not([action*='logout']) [type=submit]").first
    submit(page, confirm, lands_on=re.compile(rf"^{re.escape(base)}/(?!accounts/confirm-email/)"))

    log_in(page, base, "alice@example.com", FIRST)
    log_out(page, base)

    # A password reset, with the link from the console.
    page.goto(f"{base}/accounts/password/reset/")
    page.locator("[name=email]").fill("alice@example.com")
    submit(page, page.locator("[name=email]"), lands_on=f"{base}/accounts/password/reset/done/")
    page.goto(emailed_link(console, "alice@example.com", "/accounts/password/reset/"))
    page.locator("[name=new_password1]").fill(SECOND)
    page.locator("[name=new_password2]").fill(SECOND)
    submit(
        page,
        page.locator("[name=new_password2]"),
        lands_on=f"{base}/accounts/password/reset/complete/",
    )
    log_in(page, base, "alice", SECOND)
    log_out(page, base)

    # The superuser from createsuperuser, on the app's login page, by either name; and
    # the session opens the admin.
    for login in ("root", "root@example.com"):
        log_in(page, base, login, ROOT_PASSWORD)
        admin = page.goto(f"{base}/admin/")
        assert admin is not None and admin.status == 200 and page.url == f"{base}/admin/"
        log_out(page, base)
