"""A project's own user admin, using useraccounts' importable pieces."""

from django.contrib import admin

from tests.custom_user.models import EmailUser
from useraccounts.admin import UserAccountsAdminMixin


@admin.register(EmailUser)
class EmailUserAdmin(UserAccountsAdminMixin, admin.ModelAdmin):
    list_display = ("email", "is_active", "is_staff")
    search_fields = ("email",)
    exclude = ("password",)
