"""The audit trail in the admin: read-only, filterable, searchable."""

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "event", "outcome", "user_repr", "ip")
    list_filter = ("outcome", "event", "created_at")
    search_fields = ("user_repr", "ip", "event")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # rows go only through useraccounts_prune_audit
