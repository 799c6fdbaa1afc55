"""Staff find any account's addresses in the admin."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import create_account
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:useraccounts_emailaddress_changelist")


@pytest.fixture
def staff_client(client):
    User = get_user_model()
    fields = {"email": "admin@example.com", "password": "x-admin-password-x"}
    if has_username():
        fields["username"] = "admin"
    client.force_login(User.objects.create_superuser(**fields))
    return client


def test_email_addresses_are_searchable_by_email_and_username(staff_client):
    create_account("carol", "carol@example.com")
    create_account("dave", "dave@example.net", verified=False)
    by_email = staff_client.get(CHANGELIST, {"q": "example.net"})
    assert by_email.status_code == 200
    assert "dave@example.net" in by_email.content.decode()
    assert "carol@example.com" not in by_email.content.decode()
    if has_username():
        by_name = staff_client.get(CHANGELIST, {"q": "carol"})
        assert "carol@example.com" in by_name.content.decode()
    unverified = staff_client.get(CHANGELIST, {"verified__exact": "0"})
    assert "dave@example.net" in unverified.content.decode()
    assert "carol@example.com" not in unverified.content.decode()


def test_changelist_query_count_does_not_grow_with_rows(
    staff_client, django_assert_max_num_queries
):
    for n in range(3):
        create_account(f"user{n}", f"user{n}@example.com")
    staff_client.get(CHANGELIST)
    with django_assert_max_num_queries(10) as few:
        staff_client.get(CHANGELIST)
    for n in range(3, 20):
        create_account(f"user{n}", f"user{n}@example.com")
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(CHANGELIST)


def test_non_staff_cannot_see_addresses(client, account):
    client.force_login(account)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
