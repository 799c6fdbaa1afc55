"""Staff tools: every account's addresses, and actions on users.

For ``django.contrib.auth.models.User`` the user admin gets them automatically. A project
with its own user model and admin adds them itself::

    from useraccounts.admin import UserAccountsAdminMixin

    @admin.register(MyUser)
    class MyUserAdmin(UserAccountsAdminMixin, admin.ModelAdmin):
        ...

(``EmailAddressInline`` and ``USER_ACTIONS`` can also be used one by one.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .exceptions import AccountError
from .manager import get_account_manager
from .models import EmailAddress
from .users import username_field_name


@admin.register(EmailAddress)
class EmailAddressAdmin(admin.ModelAdmin):
    list_display = ("email", "user", "verified", "primary", "undeliverable", "created_at")
    list_filter = ("verified", "primary", "undeliverable")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "verified_at")
    ordering = ("email",)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # The user model is the project's: its username field is known only at run time.
        return ("email", f"user__{username_field_name()}")


class EmailAddressInline(admin.TabularInline):
    """A user's addresses on the user's change page."""

    model = EmailAddress
    extra = 0
    ordering = ("-primary", "email")
    fields = ("email", "verified", "primary", "undeliverable", "created_at", "verified_at")
    readonly_fields = ("created_at", "verified_at")


def _for_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    act: Callable[[object], bool],
    done: Callable[[int], str],
) -> None:
    """Run ``act`` on each user, each in its own transaction; report what it did."""
    count, failed = 0, []
    for user in queryset:
        try:
            with transaction.atomic():
                count += bool(act(user))
        except AccountError as error:
            failed.append(f"{user}: {error.message}")
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


def _resend(manager, request, address) -> bool:
    if address.verified:
        return False
    manager.send_email_confirmation(request, address)
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
resend_confirmation = _address_action(
    "resend_confirmation",
    _("Send a new confirmation link"),
    _resend,
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
