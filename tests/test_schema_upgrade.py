"""`tubepoller db init` adds the columns a release brings to an existing database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from poller.models import db

# The columns this release added, which a database from before lacks.
NEW_COLUMNS = [
    ("channel", "warning"),
    ("subscription", "include"),
    ("video", "media_type"),
    ("video", "available_at"),
    ("channel", "paused_at"),
    ("subscription", "paused_at"),
]
NEW_TABLES = ["poll_record"]
OLD_ROWS = [
    "INSERT INTO \"user\" (name, token_hash, is_admin, created_at) VALUES ('alice', 'h', %s, 1)",
    "INSERT INTO channel (kind, external_id, feed_url, title, created_at, claimed_until,"
    " interval_s, consecutive_failures, poll_attempts, upload_history)"
    " VALUES ('youtube', 'UCx', 'http://127.0.0.1/f', 't', 1, 0, 300, 0, 0, '[]')",
    "INSERT INTO subscription (user_id, channel_id, mode, created_at)"
    " VALUES (1, 1, 'future_only', 1)",
    "INSERT INTO video (channel_id, external_id, title, url, discovered_at, backfill,"
    " download_status, download_attempts, updated_at)"
    " VALUES (1, 'v1', 'v', 'http://127.0.0.1/v', 1, %s, 'none', 0, 1)",
]


@pytest.fixture
def old_database(database_url: str) -> str:
    """A database with the schema from before these columns, and a row in each table."""
    false = "false" if database_url.startswith("postgres") else "0"
    with db.connection_context():
        for table in NEW_TABLES:
            db.execute_sql(f'DROP TABLE "{table}"')
        for table, column in NEW_COLUMNS:
            db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        for statement in OLD_ROWS:
            db.execute_sql(statement.replace("%s", false))
        # The due index as it was, before (next_poll_at, id) replaced it.
        db.execute_sql("DROP INDEX channel_next_poll_at_id")
        db.execute_sql("CREATE INDEX channel_next_poll_at ON channel (next_poll_at)")
    return database_url


def _db_init(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUBEPOLLER_DATABASE_URL": url, "TUBEPOLLER_DATA_DIR": str(tmp_path)}
    tubepoller = Path(sys.executable).with_name("tubepoller")
    return subprocess.run(
        [str(tubepoller), "db", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_db_init_upgrades_an_old_database(old_database: str, tmp_path: Path) -> None:
    done = _db_init(old_database, tmp_path)
    assert done.returncode == 0, done.stderr
    for table, column in NEW_COLUMNS:
        assert f"{table}.{column}" in done.stdout

    with db.connection_context():
        assert db.execute_sql("SELECT warning FROM channel").fetchone() == (None,)
        (include,) = db.execute_sql('SELECT "include" FROM subscription').fetchone()
        assert json.loads(include) == ["video", "live"]
        row = db.execute_sql("SELECT media_type, available_at FROM video").fetchone()
        assert tuple(row) == ("video", None)
        assert all(db.table_exists(table) for table in NEW_TABLES)
        indexes = {index.name for index in db.get_indexes("channel")}
        assert "channel_next_poll_at_id" in indexes and "channel_next_poll_at" not in indexes

    again = _db_init(old_database, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "added" not in again.stdout
