"""Staff tools: every account's addresses, and actions on users.

For ``django.contrib.auth.models.User`` the user admin gets them automatically. A project
with its own user model and admin adds them itself::

    from useraccounts.admin import UserAccountsAdminMixin

    @admin.register(MyUser)
    class MyUserAdmin(UserAccountsAdminMixin, admin.ModelAdmin):
        ...

(``EmailAddressInline`` and ``USER_ACTIONS`` can also be used one by one.)

Only a superuser acts on a superuser's account: a staff member allowed to change email
addresses or users could otherwise give a superuser's account their own address, have a
reset link sent to it, and log in as the superuser. So for a staff member who is not a
superuser, a superuser's addresses and user page are read-only and the account actions
skip superusers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .exceptions import AccountError, EmailAddressError
from .manager import get_account_manager
from .models import EmailAddress, normalize_email
from .users import username_field_name


def out_of_reach(request: HttpRequest, user: object) -> bool:
    """Whether ``user`` is a superuser and the staff member acting in ``request`` is not:
    then only a superuser may change the account, its addresses, or act on them."""
    return bool(getattr(user, "is_superuser", False)) and not getattr(
        request.user, "is_superuser", False
    )


def _any_out_of_reach(request: HttpRequest, users: Iterable) -> bool:
    """Whether a bulk deletion would touch a superuser the acting staff member may not."""
    if getattr(request.user, "is_superuser", False):
        return False
    return any(out_of_reach(request, user) for user in users)


def save_address(request: HttpRequest, address: EmailAddress, *, newly_verified: bool) -> None:
    """Save an address staff edited. One they have just marked verified is saved
    unverified first, then verified through the account manager, as a confirmation link
    would: that claims the address (other accounts' unverified rows for it go) and sends
    ``email_confirmed``."""
    if newly_verified:
        address.verified = False
        address.save()
        get_account_manager().mark_email_verified(request, address)
    else:
        address.save()


def _newly_verified(form: forms.ModelForm) -> bool:
    """The form ticks ``verified`` on an address that was not verified."""
    return bool(form.instance.verified) and "verified" in form.changed_data


class EmailAddressAdminForm(forms.ModelForm):
    """Refuses to put an address on a superuser's account unless a superuser does it."""

    #: The request's user: set on the form class the admin builds for each request.
    acting_request: HttpRequest | None = None

    def clean_user(self):
        user = self.cleaned_data.get("user")
        if self.acting_request is not None and out_of_reach(self.acting_request, user):
            raise forms.ValidationError(
                _("Only a superuser can add or move an address to a superuser's account."),
                code="superuser_only",
            )
        return user


@admin.register(EmailAddress)
class EmailAddressAdmin(admin.ModelAdmin):
    form = EmailAddressAdminForm
    list_display = ("email", "user", "verified", "primary", "undeliverable", "created_at")
    list_filter = ("verified", "primary", "undeliverable")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "verified_at")
    ordering = ("email",)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # The user model is the project's: its username field is known only at run time.
        return ("email", f"user__{username_field_name()}")

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # A class of its own for this request: the form checks who is acting.
        return type(form.__name__, (form,), {"acting_request": request})

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and out_of_reach(request, obj.user):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and out_of_reach(request, obj.user):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request: HttpRequest):
        """Bulk deletion ("delete selected") is refused, as Django refuses a missing
        permission, when a superuser's address is among the selected."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if isinstance(objs, QuerySet):
            objs = objs.select_related("user")
        if _any_out_of_reach(request, (address.user for address in objs)):
            perms_needed = {*perms_needed, gettext("email addresses of superusers")}
        return deleted, counts, perms_needed, protected

    def save_model(self, request: HttpRequest, obj: EmailAddress, form, change: bool) -> None:
        save_address(request, obj, newly_verified=_newly_verified(form))


class EmailAddressInline(admin.TabularInline):
    """A user's addresses on the user's change page (read-only on a superuser's page
    unless a superuser is looking)."""

    model = EmailAddress
    extra = 0
    ordering = ("-primary", "email")
    fields = ("email", "verified", "primary", "undeliverable", "created_at", "verified_at")
    readonly_fields = ("created_at", "verified_at")

    # ``obj`` is the user whose page this is.
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return not out_of_reach(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return not out_of_reach(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return not out_of_reach(request, obj) and super().has_delete_permission(request, obj)


def _for_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    act: Callable[[object], bool],
    done: Callable[[int], str],
) -> None:
    """Run ``act`` on each user, each in its own transaction; report what it did.

    A superuser is skipped (and named in the warning) unless a superuser is acting.
    """
    count, failed = 0, []
    for user in queryset:
        if out_of_reach(request, user):
            failed.append(
                gettext("%(user)s: only a superuser can do this for a superuser.") % {"user": user}
            )
            continue
        try:
            with transaction.atomic():
                count += bool(act(user))
        except AccountError as error:
            failed.append(f"{user}: {error.message}")
    if count or not failed:  # "0 done" says nothing: the warning says why
        modeladmin.message_user(request, done(count), messages.SUCCESS)
    if failed:
        modeladmin.message_user(request, "; ".join(failed), messages.WARNING)


def _primary(user) -> EmailAddress | None:
    return EmailAddress.objects.filter(user=user, primary=True).select_related("user").first()


def _address_action(name: str, description: str, act: Callable, done: Callable[[int], str]):
    """An action that runs ``act(manager, request, address)`` on the primary address of
    each selected user; ``act`` returns whether it did something."""

    @admin.action(description=description, permissions=["change"])
    def action(modeladmin, request, queryset) -> None:
        manager = get_account_manager()

        def run(user) -> bool:
            address = _primary(user)
            return address is not None and act(manager, request, address)

        _for_each(modeladmin, request, queryset, run, done)

    action.__name__ = name
    return action


def _no_address(user) -> AccountError:
    """Why a user without a primary address gets no confirmation link."""
    email = normalize_email(getattr(user, user.get_email_field_name(), "") or "")
    try:
        validate_email(email)
    except forms.ValidationError:
        email = ""
    if (
        email
        and not EmailAddress.objects.filter(user_id=user.pk).exists()
        and not EmailAddress.objects.filter(email=email, verified=True).exists()
    ):
        # The rule of ``adopt_legacy_address``: the user record's own address, which
        # the site wrote, becomes a verified row the first time it is needed.
        return AccountError(
            gettext(
                "%(email)s needs no link: it counts as confirmed, since the site wrote it "
                "(createsuperuser, the admin, or before the app was installed), not a "
                "visitor."
            )
            % {"email": email}
        )
    return AccountError(gettext("The account has no email address to send a link to."))


def _resend(manager, request, user) -> bool:
    """A new confirmation link to the user's primary address; when none can go, an
    ``AccountError`` that tells staff why (never a bare "0 sent")."""
    address = _primary(user)
    if address is None:
        raise _no_address(user)
    if address.verified:
        raise EmailAddressError(reason="already_verified")
    manager.send_email_confirmation(request, address)  # an undeliverable one raises
    return True


def _reset(manager, request, address) -> bool:
    manager.request_password_reset(request, email=address.email, rate_limit=False)
    return True


mark_primary_email_verified = _address_action(
    "mark_primary_email_verified",
    _("Mark the primary email address verified"),
    lambda manager, request, address: manager.mark_email_verified(request, address),
    lambda n: ngettext("%d address marked verified.", "%d addresses marked verified.", n) % n,
)


@admin.action(description=_("Send a new confirmation link"), permissions=["change"])
def resend_confirmation(modeladmin, request, queryset) -> None:
    manager = get_account_manager()
    _for_each(
        modeladmin,
        request,
        queryset,
        lambda user: _resend(manager, request, user),
        lambda n: ngettext("%d confirmation link sent.", "%d confirmation links sent.", n) % n,
    )


send_password_reset = _address_action(
    "send_password_reset",
    _("Send a password reset link"),
    _reset,
    lambda n: ngettext("%d reset link sent.", "%d reset links sent.", n) % n,
)


@admin.action(description=_("Deactivate (logs out, refuses login)"), permissions=["change"])
def deactivate_users(modeladmin, request, queryset) -> None:
    manager = get_account_manager()
    _for_each(
        modeladmin,
        request,
        queryset.filter(is_active=True),
        lambda user: manager.set_user_active(request, user, False),
        lambda n: ngettext("%d user deactivated.", "%d users deactivated.", n) % n,
    )


@admin.action(description=_("Reactivate"), permissions=["change"])
def reactivate_users(modeladmin, request, queryset) -> None:
    manager = get_account_manager()
    _for_each(
        modeladmin,
        request,
        queryset.filter(is_active=False),
        lambda user: manager.set_user_active(request, user, True),
        lambda n: ngettext("%d user reactivated.", "%d users reactivated.", n) % n,
    )


USER_ACTIONS = [
    mark_primary_email_verified,
    resend_confirmation,
    send_password_reset,
    deactivate_users,
    reactivate_users,
]


class UserAccountsAdminMixin:
    """Adds the addresses inline and the account actions to a user admin."""

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), EmailAddressInline]

    # A superuser's page (and Django's page that sets its password) is read-only for
    # staff who are not superusers.
    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return not out_of_reach(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return not out_of_reach(request, obj) and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if _any_out_of_reach(request, objs):
            perms_needed = {*perms_needed, gettext("superusers")}
        return deleted, counts, perms_needed, protected

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        """Addresses in the inline are saved as on their own admin page: one just marked
        verified is confirmed through the account manager."""
        if formset.model is not EmailAddress:
            super().save_formset(request, form, formset, change)
            return
        newly_verified = [f.instance for f in formset.forms if _newly_verified(f)]
        instances = formset.save(commit=False)
        for address in formset.deleted_objects:
            address.delete()
        for address in instances:
            verified_now = any(address is other for other in newly_verified)
            save_address(request, address, newly_verified=verified_now)
        formset.save_m2m()

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        if self.has_change_permission(request):  # every account action changes users
            for action in USER_ACTIONS:
                actions[action.__name__] = self.get_action(action)
        return actions


if settings.AUTH_USER_MODEL == "auth.User" and admin.site.is_registered(User):
    admin.site.unregister(User)

    @admin.register(User)
    class UserAdmin(UserAccountsAdminMixin, DjangoUserAdmin):
        """Django's user admin, with the addresses inline and the account actions."""
