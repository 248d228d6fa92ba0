"""Dramatiq middleware: a database connection per message."""

from __future__ import annotations

import logging

from dramatiq import Middleware

from .models import db

log = logging.getLogger(__name__)


class DatabaseConnection(Middleware):
    """Open the thread's peewee connection for a message and close it after.

    Each worker thread gets its own connection (peewee keeps one per thread);
    closing it after every message hands it back to the pool on PostgreSQL
    and means a failed message never leaves a transaction open for the next.
    """

    def before_process_message(self, broker, message):
        db.connect(reuse_if_open=True)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._close()

    def after_skip_message(self, broker, message):
        self._close()

    @staticmethod
    def _close() -> None:
        if db.is_closed():
            return
        try:
            if db.in_transaction():
                db.rollback()
        finally:
            db.close()
