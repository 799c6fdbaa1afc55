"""The layout of ``useraccounts/base.html`` as a project meets it: the header says who is
logged in and leads to the account pages, logging out is a POST with a CSRF token, and
a project that overrides the documented blocks gets its own content in their place.
No browser: the browser tests look at the same pages in chromium."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse

from tests.conftest import create_account

pytestmark = pytest.mark.django_db

PROJECT_TEMPLATE = """{% extends "useraccounts/base.html" %}
{% block title %}Project title{% endblock %}
{% block style %}<style>body { color: green; }</style>{% endblock %}
{% block extra_head %}<meta name="project" content="yes">{% endblock %}
{% block header %}<header>Project header</header>{% endblock %}
{% block content %}<h1>Project content</h1>{% endblock %}
{% block footer %}<footer>Project footer</footer>{% endblock %}
"""


def render(source: str, user) -> str:
    request = RequestFactory().get("/accounts/account/", HTTP_HOST="testserver")
    request.user = user
    template = engines["django"].from_string(source)
    return template.render({"user": user}, request)


def test_the_header_of_a_logged_in_user(account):
    page = render('{% extends "useraccounts/base.html" %}', account)
    assert f"Logged in as <strong>{account.get_username()}</strong>" in page
    for name in ("account", "email", "password_change"):
        assert f'href="{reverse(f"useraccounts:{name}")}"' in page
    assert f'href="{reverse("useraccounts:account")}" aria-current="page"' in page
    logout = page[page.index(f'<form method="post" action="{reverse("useraccounts:logout")}"') :]
    logout = logout[: logout.index("</form>")]
    assert 'name="csrfmiddlewaretoken"' in logout and ">Log out</button>" in logout
    assert reverse("useraccounts:signup") not in page
    assert 'href="/static/useraccounts/useraccounts.css"' in page
    assert '<a class="ua-site" href="/">testserver</a>' in page


def test_the_header_of_a_visitor(db):
    page = render('{% extends "useraccounts/base.html" %}', AnonymousUser())
    assert f'href="{reverse("useraccounts:login")}"' in page
    assert f'href="{reverse("useraccounts:signup")}"' in page
    assert "Logged in as" not in page
    assert reverse("useraccounts:logout") not in page


def test_a_project_overrides_every_block(account):
    page = render(PROJECT_TEMPLATE, account)
    for own in (
        "<title>Project title</title>",
        "<style>body { color: green; }</style>",
        '<meta name="project" content="yes">',
        "<header>Project header</header>",
        "<h1>Project content</h1>",
        "<footer>Project footer</footer>",
    ):
        assert own in page
    assert "useraccounts.css" not in page  # the project's style replaces the app's
    assert "Logged in as" not in page and reverse("useraccounts:logout") not in page


def test_a_project_names_its_site_and_keeps_the_rest():
    user = create_account("carol", "carol@example.com")
    page = render(
        '{% extends "useraccounts/base.html" %}{% block site_name %}Carol’s shop{% endblock %}'
        "{% block style %}{{ block.super }}<style>main { max-width: 50rem; }</style>"
        "{% endblock %}",
        user,
    )
    assert '<a class="ua-site" href="/">Carol’s shop</a>' in page
    assert "useraccounts.css" in page and "max-width: 50rem" in page
    assert "Logged in as" in page
