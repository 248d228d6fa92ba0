"""Write a channel's poll history: one row per poll, the last POLL_HISTORY kept.

A poll costs one INSERT here, its SQL compiled once (`sql.compiled`): the
channel's next poll number comes from the (channel, seq) index inside the
same statement. Every PRUNE_EVERY-th
poll of a channel also deletes its rows older than the last POLL_HISTORY,
by that number on the same index, so the table stays bounded at fewer than
POLL_HISTORY + PRUNE_EVERY rows per channel and a prune deletes at most
PRUNE_EVERY rows.
"""

from __future__ import annotations

from typing import Any

from peewee import Value, fn

from .models import POLL_HISTORY, PollRecord, db
from .sql import compiled

PRUNE_EVERY = 10  # a channel's polls between two prunes of its history
MAX_ERROR = 1000  # characters of an error kept


def record_poll(
    channel_id: int,
    polled_at: float,
    outcome: str,
    duration_s: float,
    *,
    http_status: int | None = None,
    new_videos: int = 0,
    backfill: int = 0,
    error: str | None = None,
) -> int | None:
    """Append one poll to a channel's history; return its number (None if not written).

    A poll of the same channel written at the same moment by another worker
    (it should not happen: the claim forbids it) loses its row, not its poll.
    """
    params: list[Any] = [
        channel_id,
        polled_at,
        outcome,
        http_status,
        round(duration_s, 3),
        new_videos,
        backfill,
        error[:MAX_ERROR] if error else None,
    ]
    sql = compiled("record_poll", lambda: _record(*params), _record_params(params))
    written = list(db.execute_sql(sql, _record_params(params)))
    if not written:
        return None
    seq = int(written[0][0])
    if seq % PRUNE_EVERY == 0:
        prune(channel_id, seq)
    return seq


FIELDS = [
    PollRecord.channel,
    PollRecord.seq,
    PollRecord.polled_at,
    PollRecord.outcome,
    PollRecord.http_status,
    PollRecord.duration_s,
    PollRecord.new_videos,
    PollRecord.backfill,
    PollRecord.error,
]


def _record(channel_id: int, *values: Any) -> Any:
    """The INSERT … SELECT of one poll: its number is the channel's last one + 1."""
    previous = fn.COALESCE(fn.MAX(PollRecord.seq), 0)
    row: Any = PollRecord.select(Value(channel_id), previous + 1, *map(Value, values)).where(
        PollRecord.channel == channel_id
    )
    return PollRecord.insert_from(row, FIELDS).on_conflict_ignore().returning(PollRecord.seq)


def _record_params(params: list) -> list:
    """`_record`'s parameters in SQL order: the COALESCE's 0 and the + 1 come second."""
    return [params[0], 0, 1, *params[1:], params[0]]


def prune(channel_id: int, seq: int) -> int:
    """Delete a channel's polls older than the last POLL_HISTORY before `seq`; return how many."""
    old = (PollRecord.channel == channel_id) & (PollRecord.seq <= seq - POLL_HISTORY)
    return int(PollRecord.delete().where(old).execute())
