from django.db import connection
from django.shortcuts import render
from psycopg2 import sql

from layers.democity.store import DEMO_SCHEMA


def home(request):
    """The start page until the map viewer lands: what is here, and where the API lives."""
    with connection.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT c.relname, c.reltuples::bigint FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = {} AND c.relkind = 'r' ORDER BY c.relname").format(sql.Literal(DEMO_SCHEMA)))
        tables = cur.fetchall()
    return render(request, "web/home.html", {"tables": tables})
