"""The database's plan for a query, as text: what the plan tests read (index used, no sort step).

On PostgreSQL sorts and sequential scans are discouraged for the EXPLAIN, so a small test table
shows the plan the index allows rather than the one its few rows make cheapest.
"""

from django.db import connection


def plan_of(sql):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
