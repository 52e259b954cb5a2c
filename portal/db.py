"""Database helpers that are not about any one app."""

from django.db import connection


def refresh_statistics(*models) -> None:
    """ANALYZE the tables of ``models`` after a bulk write (PostgreSQL; elsewhere nothing).

    Queries that follow at once are otherwise planned on statistics taken before the rows
    came, which autovacuum refreshes only some time later: a nested loop chosen for a
    "nearly empty" table then runs for minutes. Inside a transaction ANALYZE counts that
    transaction's own new rows."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
