"""A batch of messages written to RabbitMQ at once (poller.publish), on a real broker."""

from __future__ import annotations

import socket

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from pika.adapters.utils.io_services_utils import _AsyncTransportBase

from poller.publish import one_write

pytestmark = pytest.mark.rabbitmq

QUEUE = "publish_test"


def message(n: int) -> dramatiq.Message:
    return dramatiq.Message(queue_name=QUEUE, actor_name="noop", args=(n,), kwargs={}, options={})


def test_a_batch_arrives_whole_with_its_delays(rabbitmq_vhost, monkeypatch) -> None:
    broker = RabbitmqBroker(url=rabbitmq_vhost.url)
    writes: list[int] = []
    send = _AsyncTransportBase._sigint_safe_send

    def counted(sock, data):
        writes.append(len(data))
        return send(sock, data)

    monkeypatch.setattr(_AsyncTransportBase, "_sigint_safe_send", staticmethod(counted))
    try:
        broker.declare_queue(QUEUE)
        with one_write(broker) as batched:
            for n in range(600):
                broker.enqueue(message(n), delay=60_000 if n % 3 == 0 else None)
            # Nothing is written before the block ends.
            assert broker.channel.connection._impl._get_write_buffer_size() > 0
        assert batched
        assert broker.channel.connection._impl._get_write_buffer_size() == 0
        # 600 messages are 1,800 frames, written in a few large writes, not one each.
        assert sum(writes) > 600 * 100 and len(writes) < 20
        broker.enqueue(message(600))  # the channel sends as before after the block
        broker.channel.connection.process_data_events(time_limit=0.5)
        queues = rabbitmq_vhost.queues()
        assert queues[QUEUE][0] == 401 and queues[f"{QUEUE}.DQ"][0] == 200
    finally:
        for name in (QUEUE, f"{QUEUE}.DQ", f"{QUEUE}.XQ"):
            broker.channel.queue_delete(name)
        broker.close()


def test_other_brokers_send_as_they_publish() -> None:
    broker = StubBroker()
    broker.declare_queue(QUEUE)
    with one_write(broker) as batched:
        broker.enqueue(message(1))
        assert broker.queues[QUEUE].qsize() == 1
    assert not batched
    confirming = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/", confirm_delivery=True)
    with one_write(confirming) as batched:  # each publish waits for its confirm: no batching
        pass
    assert not batched


def test_a_connection_lost_while_idle_is_replaced_before_the_batch(rabbitmq_vhost) -> None:
    broker = RabbitmqBroker(url=rabbitmq_vhost.url)
    try:
        broker.declare_queue(QUEUE)
        broker.enqueue(message(0))
        # The connection dies while nothing is sent, as one RabbitMQ closed for
        # missed heartbeats: the socket reads end of file.
        broker.connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)
        with one_write(broker) as batched:
            for n in range(1, 11):
                broker.enqueue(message(n))
        assert batched
        assert rabbitmq_vhost.queues()[QUEUE][0] == 11  # none lost to the dead connection
    finally:
        broker.channel.queue_delete(QUEUE)
        broker.close()
