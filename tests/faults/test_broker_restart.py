"""RabbitMQ stopped and started (`rabbitmqctl stop_app`/`start_app`) mid-fan-out and mid-poll.

This stops the whole RabbitMQ node for a few seconds: run it alone (CI runs tests serially).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from poller.models import Channel
from tests.faults.conftest import assert_end_state, plain_feeds, polled
from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.procs import ROOT, wait_for
from tests.support.rabbit import rabbitmqctl
from tests.support.rows import make_user, subscribe

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.rabbitmq,
    pytest.mark.restarts_services,
    pytest.mark.usefixtures("conn"),
]

CHANNELS = 300

# A scheduler whose sends take 10 ms each, in batches of 20 (each batch is written to
# RabbitMQ at once), so that the broker stops in the middle of its fan-out. It must fail
# with a broker error, having released the batch it could not write.
SLOW_TICK = """
import time
from poller import actors, config, enqueue
from poller.database import open_database
open_database(config.get().database_url)  # a worker opens it at boot; this is no worker
enqueue.BATCH = 20
def slowed(send):
    def slow_send(*args, **kwargs):
        time.sleep(0.01)
        return send(*args, **kwargs)
    return slow_send
# Sent at once, or with a delay to its host's budget slot: both slowed.
actors.poll_channel.send = slowed(actors.poll_channel.send)
actors.poll_channel.send_with_options = slowed(actors.poll_channel.send_with_options)
try:
    actors.tick()
except Exception as exc:
    print("tick failed:", type(exc).__name__)
else:
    print("tick done")
"""

# What a worker logs while its broker is away; any other error still fails the test.
CONNECTION_LOSS = [
    "Connection", "connection", "StreamLost", "CONNECTION_FORCED", "ChannelWrongState",
    "ChannelClosed", "AMQP", "Broken pipe", "UnroutableError",
]  # fmt: skip


def stop_broker() -> None:
    rabbitmqctl("stop_app", timeout=60)


def start_broker() -> None:
    rabbitmqctl("start_app", timeout=120)
    wait_for(
        lambda: (
            subprocess.run(
                ["rabbitmq-diagnostics", "-q", "check_port_connectivity"], capture_output=True
            ).returncode
            == 0
        ),
        60,
        "RabbitMQ to listen again",
        every=0.5,
    )


def claimed(ids: list[int]) -> int:
    return Channel.select().where(Channel.id.in_(ids) & (Channel.claimed_until > 0)).count()


def test_rabbitmq_restarts_mid_fan_out_and_mid_poll_lose_no_channel(
    cluster: Cluster, feeds: FeedServer
) -> None:
    cluster.expected = CONNECTION_LOSS
    user = make_user()
    numbers = plain_feeds(feeds, CHANNELS)
    channels = {subscribe(user, feeds.feed_url(n)).id: n for n in numbers}
    ids = list(channels)
    feeds.latency = 0.1  # 300 polls on 8 threads: about four seconds of polling
    started = time.time()
    workers = [cluster.start_worker("poll", "tick", processes=2, threads=4)]
    pids = [w.proc.pid for w in workers]

    try:
        # 1. The broker stops in the middle of a scheduler's fan-out.
        scheduler = subprocess.Popen(
            [sys.executable, "-c", SLOW_TICK], cwd=ROOT, env=cluster.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        cluster.wait(lambda: claimed(ids) > 0 and polled(ids) > 0, "the fan-out to be under way")
        stop_broker()
        out, _ = scheduler.communicate(timeout=60)
        assert "tick failed" in out, out  # the scheduler saw the broker go
        sent_before_stop = polled(ids)
        start_broker()
        assert 0 < sent_before_stop < CHANNELS

        # 2. The broker stops while the workers poll.
        cluster.wait(lambda: polled(ids) > sent_before_stop, "the workers to reconnect and poll")
        cluster.sender.send("tick", "tick")  # the cron's next tick: claims what was released
        mid = cluster.wait(
            lambda: (n := polled(ids)) > sent_before_stop + 20 and n, "polls under way"
        )
        stop_broker()
        time.sleep(2)
        start_broker()
        assert mid < CHANNELS, "every poll ended before the broker stopped: make polls slower"
    finally:
        start_broker()  # whatever happened, leave RabbitMQ running

    # 3. The cron goes on ticking; lost messages' claims (10 s) run out and are claimed again.
    def ticked_until_done() -> bool:
        if polled(ids) == CHANNELS:
            return True
        cluster.sender.send("tick", "tick")
        time.sleep(2)
        return False

    cluster.wait(ticked_until_done, "every channel's poll", timeout=120)
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain")

    assert [w.proc.pid for w in workers] == pids and all(w.alive() for w in workers)
    assert "Restarting consumer" in workers[0].text() or "onnection" in workers[0].text()
    assert_end_state(feeds, channels, after=started)
