"""Staff manage accounts in the Django admin: addresses, and actions on users."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, create_account, link_in
from useraccounts.models import EmailAddress
from useraccounts.users import has_username

pytestmark = pytest.mark.django_db
ADDRESSES = reverse("admin:useraccounts_emailaddress_changelist")


def user_admin_url(action="changelist", *args):
    meta = get_user_model()._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{action}", args=args)


def make_staff(email, *, superuser=False):
    User = get_user_model()
    fields = {"email": email, "password": "x-admin-password-x"}
    if has_username():
        fields["username"] = email.split("@")[0]
    if superuser:
        return User.objects.create_superuser(**fields)
    return User.objects.create_user(is_staff=True, **fields)


@pytest.fixture
def admin_client(client):
    client.force_login(make_staff("admin@example.com", superuser=True))
    return client


def run_action(client, action, users):
    return client.post(
        user_admin_url(),
        {"action": action, "_selected_action": [str(u.pk) for u in users]},
        follow=True,
    )


def test_addresses_are_searchable_and_filterable(admin_client):
    create_account("carol", "carol@example.com")
    create_account("dave", "dave@example.net", verified=False)
    by_email = admin_client.get(ADDRESSES, {"q": "example.net"})
    assert by_email.status_code == 200
    assert "dave@example.net" in by_email.content.decode()
    assert "carol@example.com" not in by_email.content.decode()
    if has_username():
        assert "carol@example.com" in admin_client.get(ADDRESSES, {"q": "carol"}).content.decode()
    unverified = admin_client.get(ADDRESSES, {"verified__exact": "0"}).content.decode()
    assert "dave@example.net" in unverified and "carol@example.com" not in unverified
    primary = admin_client.get(ADDRESSES, {"primary__exact": "1"}).content.decode()
    assert "dave@example.net" in primary


def test_address_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    for n in range(3):
        create_account(f"user{n}", f"user{n}@example.com")
    admin_client.get(ADDRESSES)
    with django_assert_max_num_queries(12) as few:
        admin_client.get(ADDRESSES)
    for n in range(3, 20):
        create_account(f"user{n}", f"user{n}@example.com")
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(ADDRESSES)


def test_user_page_shows_the_addresses_inline(admin_client):
    user = create_account("carol", "carol@example.com")
    EmailAddress.objects.create(user=user, email="carol.two@example.com")
    page = admin_client.get(user_admin_url("change", user.pk))
    assert page.status_code == 200
    assert "carol.two@example.com" in page.content.decode()
    assert "email_addresses-TOTAL_FORMS" in page.content.decode()


def test_mark_primary_email_verified(admin_client, signals):
    user = create_account("carol", "carol@example.com", verified=False)
    response = run_action(admin_client, "mark_primary_email_verified", [user])
    assert "1 address marked verified." in response.content.decode()
    address = EmailAddress.objects.get(user=user)
    assert address.verified
    sent = signals.assert_once("email_confirmed", user=user, email_address=address)
    assert sent["request"].user.email == "admin@example.com"
    assert (
        Client()
        .post(reverse("useraccounts:login"), {"login": "carol@example.com", "password": PASSWORD})
        .status_code
        == 302
    )


def test_resend_confirmation(admin_client, mailoutbox, signals):
    unverified = create_account("carol", "carol@example.com", verified=False)
    verified = create_account("dave", "dave@example.com")
    response = run_action(admin_client, "resend_confirmation", [unverified, verified])
    assert "1 confirmation link sent." in response.content.decode()
    assert [m.to for m in mailoutbox] == [["carol@example.com"]]
    assert Client().post(link_in(mailoutbox[0])).status_code == 302
    signals.assert_once(
        "email_confirmation_sent",
        user=unverified,
        email_address=EmailAddress.objects.get(user=unverified),
        signup=False,
    )


def test_send_password_reset(admin_client, mailoutbox, signals, settings):
    settings.USERACCOUNTS_RATE_LIMITS = {"reset_password": "1/h/ip"}  # staff are not limited
    users = [create_account(f"user{n}", f"user{n}@example.com") for n in range(3)]
    response = run_action(admin_client, "send_password_reset", users)
    assert "3 reset links sent." in response.content.decode()
    assert sorted(m.to[0] for m in mailoutbox) == [u.email for u in users]
    assert len(signals.of("password_reset_request_processed")) == 3
    link = link_in(mailoutbox[0])
    assert "/accounts/password/reset/" in link


def test_deactivate_logs_out_and_refuses_login_then_reactivate(admin_client, signals):
    user = create_account("carol", "carol@example.com")
    session = Client()
    session.force_login(user)
    response = run_action(admin_client, "deactivate_users", [user])
    assert "1 user deactivated." in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active
    signals.assert_once("user_updated", user=user, update_data={"is_active": False})
    assert session.get(reverse("useraccounts:account")).status_code == 302  # logged out
    login = Client().post(
        reverse("useraccounts:login"), {"login": "carol@example.com", "password": PASSWORD}
    )
    assert "This account is inactive" in login.content.decode()
    signals.clear()
    response = run_action(admin_client, "reactivate_users", [user])
    assert "1 user reactivated." in response.content.decode()
    signals.assert_once("user_updated", user=user, update_data={"is_active": True})
    login = Client().post(
        reverse("useraccounts:login"), {"login": "carol@example.com", "password": PASSWORD}
    )
    assert login.status_code == 302


def test_staff_without_permissions_is_refused(client, signals):
    staff = make_staff("staff@example.com")
    target = create_account("carol", "carol@example.com", verified=False)
    client.force_login(staff)
    assert client.get(ADDRESSES).status_code == 403
    assert client.get(user_admin_url()).status_code == 403
    response = client.post(
        user_admin_url(), {"action": "deactivate_users", "_selected_action": [str(target.pk)]}
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.is_active
    assert signals.names() == []


def test_staff_with_view_permission_sees_no_account_actions(client):
    staff = make_staff("viewer@example.com")
    meta = get_user_model()._meta
    staff.user_permissions.add(
        Permission.objects.get(
            codename=f"view_{meta.model_name}", content_type__app_label=meta.app_label
        )
    )
    client.force_login(staff)
    page = client.get(user_admin_url())
    assert page.status_code == 200
    assert "deactivate_users" not in page.content.decode()


def test_non_staff_cannot_see_addresses(client, account):
    client.force_login(account)
    response = client.get(ADDRESSES)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
