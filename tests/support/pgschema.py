"""A fresh PostgreSQL schema for a test or a benchmark scenario, dropped after."""

from __future__ import annotations

import uuid


def execute(admin_url: str, sql: str) -> None:
    """Run one statement on the PostgreSQL database `admin_url` names, autocommitted."""
    import psycopg2

    connection = psycopg2.connect(admin_url.replace("+pool", ""))
    connection.autocommit = True
    connection.cursor().execute(sql)
    connection.close()


def create_schema(admin_url: str, prefix: str) -> tuple[str, str]:
    """Create a schema named `prefix` + random hex; return (a URL that uses it, its name)."""
    schema = prefix + uuid.uuid4().hex[:12]
    execute(admin_url, f"CREATE SCHEMA {schema}")
    return f"{admin_url}?options=-csearch_path%3D{schema}", schema


def drop_schema(admin_url: str, schema: str) -> None:
    execute(admin_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
