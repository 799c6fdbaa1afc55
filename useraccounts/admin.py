"""Staff tools: the email addresses of every account, searchable and filterable."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import EmailAddress
from .users import username_field_name


@admin.register(EmailAddress)
class EmailAddressAdmin(admin.ModelAdmin):
    list_display = ("email", "user", "verified", "primary", "created_at")
    list_filter = ("verified", "primary")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "verified_at")
    ordering = ("email",)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # The user model is the project's: its username field is known only at run time.
        return ("email", f"user__{username_field_name()}")
