"""Forms: the shape of the input only (presence, length, format, matching passwords).

Whether a username is free or a password strong enough is the account manager's
decision, so code, the admin and these forms all get the same answer.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils.translation import gettext_lazy as _

from .users import has_username

#: Long enough for any passphrase, short enough that hashing it costs nothing unusual.
PASSWORD_MAX_LENGTH = 4096


def password_field(label: str, autocomplete: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def require_same(form: forms.Form, data: dict[str, Any], first: str, second: str) -> dict:
    """Put an error on ``second`` when the two password fields differ."""
    if data.get(first) and data.get(second) and data[first] != data[second]:
        form.add_error(
            second, _("The two passwords differ. Type the same password in both fields.")
        )
    return data


class SignupForm(forms.Form):
    """``username`` (only when the user model has one), ``email``, ``password1``/``2``."""

    username = forms.CharField(
        label=_("Username"),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = password_field(
        _("Password"), "new-password", password_validation.password_validators_help_text_html()
    )
    password2 = password_field(
        _("Password (again)"), "new-password", _("Type the same password again, to be sure.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not has_username():
            del self.fields["username"]
            self.fields["email"].widget.attrs["autocomplete"] = "username"
            return
        User = get_user_model()
        model_field = User._meta.get_field(User.USERNAME_FIELD)
        self.fields["username"].max_length = model_field.max_length
        self.fields["username"].widget.attrs["maxlength"] = str(model_field.max_length)
        self.fields["username"].help_text = model_field.help_text

    def clean(self) -> dict[str, Any]:
        return require_same(self, super().clean(), "password1", "password2")


class LoginForm(forms.Form):
    """``login`` is a username or an email address, per ``USERACCOUNTS_LOGIN_METHODS``."""

    login = forms.CharField(
        label=_("Username or email address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = password_field(_("Password"), "current-password")
    remember = forms.BooleanField(label=_("Keep me logged in"), required=False)

    def __init__(self, *args: Any, methods: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if methods == {"email"}:
            self.fields["login"].label = _("Email address")
        elif methods == {"username"}:
            self.fields["login"].label = _("Username")


class SetPasswordForm(forms.Form):
    """A new password, typed twice."""

    new_password1 = password_field(
        _("New password"), "new-password", password_validation.password_validators_help_text_html()
    )
    new_password2 = password_field(
        _("New password (again)"), "new-password", _("Type the same password again, to be sure.")
    )

    def clean(self) -> dict[str, Any]:
        return require_same(self, super().clean(), "new_password1", "new_password2")


class PasswordChangeForm(SetPasswordForm):
    """The current password, then a new one typed twice."""

    old_password = password_field(_("Current password"), "current-password")
    field_order = ["old_password", "new_password1", "new_password2"]


class EmailForm(forms.Form):
    """One email address, e.g. to send a new confirmation link to."""

    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class PasswordConfirmForm(forms.Form):
    """The current password, to confirm an action that cannot be undone."""

    password = password_field(_("Your password"), "current-password")
