"""Staff manage accounts in the Django admin: addresses, and actions on users."""

import pytest
from django import forms
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
    # The emailed link works; a browser that did not ask for it types the password.
    assert Client().post(link_in(mailoutbox[0]), {"password": PASSWORD}).status_code == 302
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


# --- only a superuser acts on a superuser's account ------------------------------------

ROOT_PASSWORD = "x-admin-password-x"


@pytest.fixture
def root(db):
    """A superuser, with the verified address a password reset would go to."""
    user = make_staff("root@example.com", superuser=True)
    EmailAddress.objects.create(user=user, email="root@example.com", primary=True, verified=True)
    return user


def grant(user, *perms):
    """Give ``user`` permissions named "app_label.codename", as a superuser would."""
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def user_perm(action):
    meta = get_user_model()._meta
    return f"{meta.app_label}.{action}_{meta.model_name}"


@pytest.fixture
def address_staff(client):
    """Mallory: staff, allowed to view and change email addresses, and nothing else."""
    mallory = make_staff("mallory@example.com")
    grant(mallory, "useraccounts.view_emailaddress", "useraccounts.change_emailaddress")
    client.force_login(mallory)
    client.staff = mallory
    return client


def address_url(action, *args):
    return reverse(f"admin:useraccounts_emailaddress_{action}", args=args)


def address_form(user, email, *, verified=True, primary=True):
    data = {"user": str(user.pk), "email": email, "undeliverable_reason": ""}
    data.update({"verified": "on"} if verified else {})
    data.update({"primary": "on"} if primary else {})
    return data


def root_can_still_log_in(root):
    root.refresh_from_db()
    return root.check_password(ROOT_PASSWORD)


def test_address_staff_cannot_take_over_a_superusers_address(address_staff, root, mailoutbox):
    address = EmailAddress.objects.get(user=root)
    url = address_url("change", address.pk)
    page = address_staff.get(url)
    assert page.status_code in (200, 403)
    assert 'name="email"' not in page.content.decode()  # read-only at most
    response = address_staff.post(url, address_form(root, "mallory@example.com"))
    assert response.status_code == 403
    address.refresh_from_db()
    assert (address.email, address.user) == ("root@example.com", root)
    # So the reset Mallory asks for her own address resets no superuser's password.
    Client().post(reverse("useraccounts:password_reset"), {"email": "mallory@example.com"})
    assert all(m.metadata["user_id"] != str(root.pk) for m in mailoutbox)
    assert root_can_still_log_in(root)


def test_address_staff_cannot_add_or_move_an_address_onto_a_superuser(address_staff, root):
    grant(address_staff.staff, "useraccounts.add_emailaddress")
    response = address_staff.post(
        address_url("add"), address_form(root, "mallory@example.com", primary=False)
    )
    assert response.status_code == 200
    assert "only a superuser" in str(response.context["adminform"].form.errors["user"]).lower()
    assert not EmailAddress.objects.filter(email="mallory@example.com").exists()

    carol = create_account("carol", "carol@example.com")
    moved = EmailAddress.objects.get(user=carol)
    response = address_staff.post(
        address_url("change", moved.pk), address_form(root, moved.email, primary=False)
    )
    assert response.status_code == 200
    assert "only a superuser" in str(response.context["adminform"].form.errors["user"]).lower()
    moved.refresh_from_db()
    assert moved.user == carol


def test_address_staff_cannot_delete_a_superusers_address(address_staff, root):
    grant(address_staff.staff, "useraccounts.delete_emailaddress")
    address = EmailAddress.objects.get(user=root)
    single = address_staff.post(address_url("delete", address.pk), {"post": "yes"})
    assert single.status_code == 403
    address_staff.post(
        ADDRESSES,
        {"action": "delete_selected", "_selected_action": [str(address.pk)], "post": "yes"},
    )
    assert EmailAddress.objects.filter(pk=address.pk).exists()
    # Other accounts' addresses are still hers to delete.
    carol = EmailAddress.objects.get(user=create_account("carol", "carol@example.com"))
    assert address_staff.post(address_url("delete", carol.pk), {"post": "yes"}).status_code == 302
    assert not EmailAddress.objects.filter(pk=carol.pk).exists()


@pytest.mark.parametrize(
    ("action", "verified", "active"),
    [
        ("send_password_reset", True, True),
        ("resend_confirmation", False, True),
        ("mark_primary_email_verified", False, True),
        ("deactivate_users", True, True),
        ("reactivate_users", True, False),
    ],
)
def test_user_staff_actions_skip_superusers(
    client, root, mailoutbox, signals, action, verified, active
):
    staff = make_staff("mallory@example.com")
    grant(staff, user_perm("view"), user_perm("change"))
    client.force_login(staff)
    EmailAddress.objects.filter(user=root).update(verified=verified)
    get_user_model().objects.filter(pk=root.pk).update(is_active=active)
    carol = create_account("carol", "carol@example.com", verified=verified, is_active=active)

    response = run_action(client, action, [root, carol])

    warning = f"{root}: only a superuser can do this for a superuser."
    assert warning.lower() in response.content.decode().lower()  # the admin capitalizes
    assert "root@example.com" not in [m.to[0] for m in mailoutbox]
    root.refresh_from_db()
    assert root.is_active == active
    assert EmailAddress.objects.get(user=root).verified == verified
    assert all(kwargs.get("user") != root for kwargs in (kw for _, kw in signals.events))
    # Carol, no superuser, got the action.
    assert any(kwargs.get("user") == carol for kwargs in (kw for _, kw in signals.events))


def test_user_staff_cannot_edit_a_superusers_account_or_addresses(client, root):
    staff = make_staff("mallory@example.com")
    grant(
        staff,
        user_perm("view"),
        user_perm("change"),
        "useraccounts.view_emailaddress",
        "useraccounts.change_emailaddress",
        "useraccounts.add_emailaddress",
    )
    client.force_login(staff)
    page = client.get(user_admin_url("change", root.pk))
    assert page.status_code == 200
    assert "root@example.com" in page.content.decode()
    assert 'name="email_addresses-0-email"' not in page.content.decode()  # read-only
    assert client.post(user_admin_url("change", root.pk), {}).status_code == 403
    if has_username():  # Django's user admin: its page that sets a password
        response = client.post(
            user_admin_url("password_change", root.pk),
            {"password1": "mallory-knows-this", "password2": "mallory-knows-this"},
        )
        assert response.status_code == 403
    assert root_can_still_log_in(root)
    # A user who is not a superuser is still hers to edit.
    carol = create_account("carol", "carol@example.com")
    page = client.get(user_admin_url("change", carol.pk))
    assert 'name="email_addresses-0-email"' in page.content.decode()


def test_a_superuser_can_do_all_of_it_for_a_superuser(admin_client, root, mailoutbox):
    address = EmailAddress.objects.get(user=root)
    response = admin_client.post(
        address_url("change", address.pk), address_form(root, "root2@example.com")
    )
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.email == "root2@example.com"
    response = admin_client.post(
        address_url("add"), address_form(root, "root3@example.com", primary=False)
    )
    assert response.status_code == 302
    assert EmailAddress.objects.filter(user=root, email="root3@example.com").exists()
    response = run_action(admin_client, "send_password_reset", [root])
    assert "1 reset link sent." in response.content.decode()
    assert [m.to for m in mailoutbox] == [["root2@example.com"]]
    page = admin_client.get(user_admin_url("change", root.pk))
    assert 'name="email_addresses-0-email"' in page.content.decode()


# --- marking an address verified claims it, through the manager ------------------------


def post_data(page, **changes):
    """What the browser posts back from an admin change page, with ``changes`` made to
    it: the main form and every inline, as the page shows them."""
    data = {}

    def add(form):
        for bound in form:
            if bound.field.disabled:
                continue
            value, widget = bound.value(), bound.field.widget
            if isinstance(widget, forms.MultiWidget):
                parts = widget.decompress(value)
                for n, part in enumerate(parts):
                    data[f"{bound.html_name}_{n}"] = "" if part is None else str(part)
            elif isinstance(widget, forms.CheckboxInput):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[bound.html_name] = [str(v) for v in value]
            else:
                data[bound.html_name] = "" if value is None else str(value)

    add(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    for key, value in changes.items():
        if value is False:
            data.pop(key, None)
        else:
            data[key] = "on" if value is True else value
    return data


def test_staff_marking_an_address_verified_confirms_it_through_the_manager(admin_client, signals):
    carol = create_account("carol", "carol@example.com", verified=False)
    address = EmailAddress.objects.get(user=carol)
    url = address_url("change", address.pk)
    response = admin_client.post(url, post_data(admin_client.get(url), verified=True))
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.verified and address.verified_at is not None
    signals.assert_once("email_confirmed", user=carol, email_address=address)
    # Saving it again, still verified, confirms nothing new.
    signals.clear()
    admin_client.post(url, post_data(admin_client.get(url)))
    assert signals.of("email_confirmed") == []


def test_staff_adding_a_verified_address_confirms_it_through_the_manager(admin_client, signals):
    carol = create_account("carol", "carol@example.com")
    response = admin_client.post(
        address_url("add"), address_form(carol, "carol.two@example.com", primary=False)
    )
    assert response.status_code == 302
    address = EmailAddress.objects.get(email="carol.two@example.com")
    assert address.verified and address.verified_at is not None
    signals.assert_once("email_confirmed", user=carol, email_address=address)


def test_staff_ticking_verified_in_the_inline_confirms_through_the_manager(admin_client, signals):
    carol = create_account("carol", "carol@example.com", verified=False)
    url = user_admin_url("change", carol.pk)
    response = admin_client.post(
        url, post_data(admin_client.get(url), **{"email_addresses-0-verified": True})
    )
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][0].formset.forms
    ]
    address = EmailAddress.objects.get(user=carol)
    assert address.verified and address.verified_at is not None
    signals.assert_once("email_confirmed", user=carol, email_address=address)


def test_staff_cannot_verify_an_address_verified_on_another_account(admin_client, signals):
    """Needs the model to allow the same address unverified on several accounts, with
    at most one verified holder (a conditional unique constraint)."""
    create_account("carol", "shared@example.com")
    dave = create_account("dave", "dave@example.com")
    squatted = EmailAddress.objects.create(user=dave, email="shared@example.com")
    url = address_url("change", squatted.pk)
    response = admin_client.post(url, post_data(admin_client.get(url), verified=True))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    squatted.refresh_from_db()
    assert not squatted.verified
    assert signals.of("email_confirmed") == []


def test_user_staff_cannot_delete_a_superuser(client, root):
    staff = make_staff("mallory@example.com")
    grant(
        staff,
        user_perm("view"),
        user_perm("change"),
        user_perm("delete"),
        "useraccounts.delete_emailaddress",  # an account's addresses go with it
    )
    client.force_login(staff)
    assert client.post(user_admin_url("delete", root.pk), {"post": "yes"}).status_code == 403
    carol = create_account("carol", "carol@example.com")
    client.post(
        user_admin_url(),
        {"action": "delete_selected", "_selected_action": [str(root.pk)], "post": "yes"},
    )
    assert get_user_model().objects.filter(pk=root.pk).exists()
    # Deleting an account that is not a superuser's is still hers to do.
    response = client.post(
        user_admin_url(),
        {"action": "delete_selected", "_selected_action": [str(carol.pk)], "post": "yes"},
    )
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=carol.pk).exists()


def test_staff_marking_an_address_verified_claims_it_from_other_accounts(admin_client):
    """Needs the same address to be allowed unverified on several accounts: marking it
    verified on one removes the others' unverified rows, as a confirmation link does."""
    carol = create_account("carol", "carol@example.com", verified=False)
    dave = create_account("dave", "dave@example.com")
    EmailAddress.objects.create(user=dave, email="carol@example.com")
    address = EmailAddress.objects.get(user=carol)
    url = address_url("change", address.pk)
    response = admin_client.post(url, post_data(admin_client.get(url), verified=True))
    assert response.status_code == 302
    assert list(EmailAddress.objects.filter(email="carol@example.com")) == [address]
