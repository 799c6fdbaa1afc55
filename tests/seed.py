"""Many users and addresses, made in SQL (seconds, not minutes), for scale tests."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models

from useraccounts.models import EmailAddress
from useraccounts.users import has_username


def _value(field: models.Field, number_sql: str) -> str | None:
    """The SQL for ``field`` of the n-th seeded user (None: let the column default)."""
    User = get_user_model()
    if isinstance(field, models.AutoField | models.BigAutoField):
        return None
    if field.primary_key and isinstance(field, models.UUIDField):
        if connection.vendor == "postgresql":
            return "gen_random_uuid()"
        return "lower(hex(randomblob(16)))"
    if field.name == User.get_email_field_name():
        return f"'seed' || {number_sql} || '@example.com'"
    if has_username() and field.name == User.USERNAME_FIELD:
        return f"'seed' || {number_sql}"
    if field.name == "password":
        return "%s"
    if isinstance(field, models.BooleanField):
        return "TRUE" if field.default is True else "FALSE"
    if isinstance(field, models.DateTimeField):
        return "CURRENT_TIMESTAMP" if not field.null else "NULL"
    if field.null:
        return "NULL"
    return "''"


def seed_users(count: int) -> None:
    """Insert ``count`` users, each with a verified primary address."""
    User = get_user_model()
    table = User._meta.db_table
    if connection.vendor == "postgresql":
        series, number = f"generate_series(1, {count}) AS g(n)", "g.n"
    else:
        series = (
            "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
            f"WHERE n < {count}) SELECT n FROM s) AS g"
        )
        number = "g.n"
    columns, values = [], []
    for field in User._meta.concrete_fields:
        sql = _value(field, number)
        if sql is not None:
            columns.append(connection.ops.quote_name(field.column))
            values.append(sql)
    email_column = User._meta.get_field(User.get_email_field_name()).column
    address_table = EmailAddress._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {series}",
            [make_password("seeded, never used")],
        )
        cursor.execute(
            f"INSERT INTO {address_table} (user_id, email, verified, "
            '"primary", created_at, undeliverable, undeliverable_reason) '
            f"SELECT {connection.ops.quote_name(User._meta.pk.column)}, {email_column}, TRUE, "
            f"TRUE, CURRENT_TIMESTAMP, FALSE, '' FROM {table} "
            f"WHERE {email_column} LIKE 'seed%%@example.com'"
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"ANALYZE {address_table}")
