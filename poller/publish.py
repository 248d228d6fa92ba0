"""Send a batch of messages to RabbitMQ in one write instead of one write each.

Dramatiq's RabbitMQ broker publishes through pika's BlockingChannel, which
flushes its socket after every `basic_publish`: a poll and a write syscall per
message, about half of the cost of a send (measured: 81 → 37 µs a message,
108 → 57 µs with a delay). A tick sends thousands, so inside `one_write` the
channel's flush waits until the block ends; every message still goes through
`broker.enqueue` (its delay queue, its middleware), and the block ends by
flushing them all. Without publisher confirms (Dramatiq's default) a publish
never waits for an answer, so nothing but the write is deferred.

pika buffers each frame (three a message: method, header, body) and sends
them one `send()` each; the block's frames are joined into one buffer first,
so a batch of 1,000 messages is one write, not 3,000 (the tick's CPU per
message 25 → 19 µs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import ConnectionClosed


@contextmanager
def one_write(broker: Any) -> Iterator[bool]:
    """Defer the flush of each message published in the block to its end.

    Yields True when the messages are written at the end, False for other
    brokers and for a RabbitMQ broker with publisher confirms (each publish
    there waits for its confirm), where each is sent as it is published.

    Raises:
        ConnectionClosed: RabbitMQ cannot be reached, or the final flush
            failed (some of the block's messages may have reached it, some not).
    """
    if not isinstance(broker, RabbitmqBroker) or broker.confirm_delivery:
        yield False
        return
    channel = _open_channel(broker)
    flush = channel._flush_output

    def deferred(*waiters: Any) -> None:
        if waiters:  # a call that waits for an answer (a declare) flushes as before
            flush(*waiters)

    channel._flush_output = deferred
    try:
        yield True
    finally:
        del channel._flush_output  # the class's method again
    try:
        _join_frames(broker.connection)
        flush()
    except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
        del broker.connection  # as Dramatiq does: the next send opens a new one
        raise ConnectionClosed(exc) from None


def _open_channel(broker: RabbitmqBroker) -> Any:
    """Return this thread's channel, its connection alive, before anything is buffered on it.

    A tick's connection may sit idle for hours (nothing due): pika answers
    heartbeats only while it handles I/O, so an idle connection would be
    closed by RabbitMQ, and the next batch written to it lost to a broken
    pipe. Handling its pending I/O here answers the heartbeats on every
    tick; a connection found closed is replaced once, as Dramatiq's own
    send does, while the batch is still empty.
    """
    try:
        return _live_channel(broker)
    except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
        del broker.connection
    try:
        return _live_channel(broker)
    except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
        del broker.connection
        raise ConnectionClosed(exc) from None


def _live_channel(broker: RabbitmqBroker) -> Any:
    channel = broker.channel  # connects, the first time
    channel.connection.process_data_events(time_limit=0)
    return channel


def _join_frames(connection: Any) -> None:
    """Join the frames pika buffered into one chunk, sent with as few writes as it takes."""
    transport = getattr(connection._impl, "_transport", None)
    frames = getattr(transport, "_tx_buffers", None)
    if frames is not None and len(frames) > 1:
        joined = b"".join(frames)
        frames.clear()
        frames.append(joined)  # the same bytes: pika's count of buffered bytes holds
