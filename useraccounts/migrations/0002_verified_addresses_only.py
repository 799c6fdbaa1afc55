"""Only a verified address belongs to an account.

Before: an address was unique across all accounts, verified or not, and stored only
lowercased. After: one row per (account, address), an address verified on one account
at most (unverified ones reserve nothing), every row in the normalized form
(:func:`useraccounts.models.normalize_email`), and indexes on the lowercased login and
email fields of the user model, so that usernames and legacy addresses are matched
case-insensitively without a full-table scan.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models
from django.db.models import Count, F, Q
from django.db.models.functions import Lower

from useraccounts.models import normalize_email
from useraccounts.users import ci_index_name, ci_index_fields


def normalize_rows(apps, schema_editor):
    """Store every address normalized. Two rows of one account that become equal are
    merged (the verified one kept, primary if either was); two accounts that both had the
    address verified keep it on the one that verified it first."""
    EmailAddress = apps.get_model("useraccounts", "EmailAddress")
    kept: dict[tuple, object] = {}
    verified_holder: dict[str, object] = {}
    # Verified first, and among them the earliest: rows made verified by
    # useraccounts_sync_emails have no verified_at and count as the earliest.
    rows = EmailAddress.objects.order_by(
        "-verified", F("verified_at").asc(nulls_first=True), "-primary", "pk"
    )
    for row in rows.iterator():
        email = normalize_email(row.email)
        key = (row.user_id, email)
        if key in kept:
            keeper = kept[key]
            row.delete()
            if row.primary and not keeper.primary:  # the account keeps a primary row
                keeper.primary = True
                keeper.save(update_fields=["primary"])
            continue
        kept[key] = row
        fields = []
        if email != row.email:
            row.email = email
            fields.append("email")
        if row.verified:
            if email in verified_holder:
                row.verified, row.verified_at = False, None
                fields += ["verified", "verified_at"]
            else:
                verified_holder[email] = row.user_id
        if fields:
            row.save(update_fields=fields)
    if schema_editor.connection.vendor == "postgresql":
        # Deleting rows queued deferred foreign-key checks; PostgreSQL runs no ALTER TABLE
        # on the table while they are pending, so run them now.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def add_user_indexes(apps, schema_editor):
    """Index the lowercased login (unique where the data allows) and email fields."""
    User = apps.get_model(settings.AUTH_USER_MODEL)
    # Historical models lack USERNAME_FIELD and EMAIL_FIELD: the names come from the
    # project's model, the table from the historical one.
    for field_name, unique in ci_index_fields(get_user_model()):
        name = ci_index_name(User, field_name)
        expression = Lower(field_name)
        duplicates = (
            User._default_manager.annotate(ci=expression)
            .values("ci")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        if unique and not duplicates.exists():
            index = models.UniqueConstraint(expression, name=name)
            schema_editor.add_constraint(User, index)
        else:
            # Existing users differ only in letter case: they keep working (login
            # prefers the exact spelling) and new ones are refused by signup.
            schema_editor.add_index(User, models.Index(expression, name=name))


def remove_user_indexes(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    for field_name, _unique in ci_index_fields(get_user_model()):
        name = ci_index_name(User, field_name)
        schema_editor.execute(schema_editor._delete_index_sql(User, name))


class Migration(migrations.Migration):
    dependencies = [
        ("useraccounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="emailaddress",
            name="email",
            field=models.EmailField(db_index=True, max_length=254, verbose_name="email address"),
        ),
        migrations.RunPython(normalize_rows, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="emailaddress",
            constraint=models.UniqueConstraint(
                fields=("user", "email"),
                name="useraccounts_one_row_per_user_and_address",
                violation_error_message="This address is already on this account.",
            ),
        ),
        migrations.AddConstraint(
            model_name="emailaddress",
            constraint=models.UniqueConstraint(
                condition=Q(("verified", True)),
                fields=("email",),
                name="useraccounts_one_verified_holder",
                violation_error_message="This address is verified on another account.",
            ),
        ),
        migrations.RunPython(add_user_indexes, remove_user_indexes),
    ]
