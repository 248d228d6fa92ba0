"""Host rows on SQLite and PostgreSQL: slots never overlap, one probe, pauses that hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from poller import host_signals, host_store, hosts
from poller.models import Host, db
from tests.support.querycount import count_queries

pytestmark = [
    pytest.mark.usefixtures("conn"),
    pytest.mark.parametrize(
        "database_url",
        ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
        indirect=True,
    ),
]
NOW = 1_800_000_000.0
HOST = "www.youtube.com"


def in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `count` threads, each on its own connection, all at once."""
    results: list[object] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            with db.connection_context():
                start.wait()
                results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_hosts_are_created_once_and_listed() -> None:
    ids = host_store.ensure_hosts(["b.example", "a.example", "b.example"], NOW)
    assert sorted(ids) == ["a.example", "b.example"]
    assert host_store.ensure_host("a.example", NOW + 5) == ids["a.example"]
    listed = host_store.list_hosts()
    assert [h.name for h in listed] == ["a.example", "b.example"]
    assert listed[0].as_dict(NOW)["paused"] is False
    assert [h.name for h in host_store.list_hosts(["b.example"])] == ["b.example"]


def test_a_reservation_creates_its_host_and_spaces_slots_at_the_rate() -> None:
    first = host_store.reserve(HOST, 3, 2, NOW)
    assert first.slots == pytest.approx((NOW, NOW + 0.5, NOW + 1.0))
    second = host_store.reserve(HOST, 1, 2, NOW + 0.1)
    assert second.slots == pytest.approx((NOW + 1.5,))
    # Idle for a while: the next slot is now again, no burst saved up.
    assert host_store.reserve(HOST, 1, 2, NOW + 100).slots == pytest.approx((NOW + 100,))


def test_a_reservation_is_one_query_however_many_slots() -> None:
    host_store.ensure_host(HOST, NOW)
    for n in (1, 500):
        with count_queries() as statements:
            assert len(host_store.reserve(HOST, n, 2, NOW).slots) == n
        assert len(statements) == 1


def test_concurrent_reservations_never_overlap() -> None:
    host_store.ensure_host(HOST, NOW)
    rate = 50.0

    def reserve_many(i: int) -> list[float]:
        mine: list[float] = []
        for _ in range(20):
            mine += host_store.reserve(HOST, 1 + i % 3, rate, NOW).slots
        return mine

    slots = sorted(s for mine in in_threads(6, reserve_many) for s in mine)  # type: ignore[union-attr]
    assert len(slots) == 20 * (2 * (1 + 2 + 3))
    assert slots[0] == pytest.approx(NOW)
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) == pytest.approx(1 / rate) and max(gaps) == pytest.approx(1 / rate)


def test_a_paused_host_grants_nothing_then_exactly_one_probe() -> None:
    host_store.ensure_host(HOST, NOW)
    state = host_store.pause(HOST, NOW, "bot_check: Sign in to confirm you’re not a bot", 900)
    assert state.paused_until == NOW + 900 and state.pause_level == 0
    assert state.as_dict(NOW)["paused"] is True
    during = host_store.reserve(HOST, 5, 2, NOW + 10)
    assert during.slots == () and during.blocked_until == NOW + 900

    after = NOW + 901
    granted = in_threads(8, lambda i: host_store.reserve(HOST, 3, 2, after))
    probes = [r for r in granted if r.probe]  # type: ignore[union-attr]
    assert len(probes) == 1 and len(probes[0].slots) == 1  # type: ignore[union-attr]
    others = [r for r in granted if not r.probe]  # type: ignore[union-attr]
    assert all(r.slots == () and r.blocked_until == after + hosts.PROBE_LEASE for r in others)  # type: ignore[union-attr]

    # Only the probe's success ends the pause; then the host is open again.
    assert not host_store.clear_pause(HOST, "not-the-probe")
    assert host_store.clear_pause(HOST, probes[0].token)  # type: ignore[union-attr]
    assert len(host_store.reserve(HOST, 3, 2, after).slots) == 3
    assert host_store.list_hosts()[0].pause_level == 0


def test_a_failed_probe_doubles_the_pause_and_reports_during_it_do_not() -> None:
    host_store.pause(HOST, NOW, "rate_limited: HTTP 429", 900)
    repeated = in_threads(5, lambda i: host_store.pause(HOST, NOW + 1, "rate_limited", 900))
    assert {(s.paused_until, s.pause_level) for s in repeated} == {(NOW + 900, 0)}  # type: ignore[union-attr]

    probe = host_store.reserve(HOST, 1, 2, NOW + 901)
    assert probe.probe
    state = host_store.pause(HOST, NOW + 902, "bot_check", 900, retry_after=60)
    assert (state.paused_until, state.pause_level) == (NOW + 902 + 1800, 1)
    assert state.probe_until is None
    # The old probe's late success cannot end the new pause.
    assert not host_store.clear_pause(HOST, probe.token)


def test_a_probe_that_told_nothing_goes_to_the_next_caller() -> None:
    host_store.pause(HOST, NOW, "bot_check", 900)
    first = host_store.reserve(HOST, 1, 2, NOW + 901)
    assert first.probe and not host_store.reserve(HOST, 1, 2, NOW + 902).probe
    assert host_store.release_probe(HOST, first.token)
    assert host_store.reserve(HOST, 1, 2, NOW + 903).probe
    # A probe whose worker died: its lease runs out and another caller probes.
    assert host_store.reserve(HOST, 1, 2, NOW + 903 + hosts.PROBE_LEASE + 1).probe


def test_403s_are_counted_per_window_across_workers() -> None:
    host_store.ensure_host(HOST, NOW)
    counts = in_threads(5, lambda i: host_store.record_forbidden(HOST, NOW))
    assert sorted(counts) == [1, 2, 3, 4, 5]  # type: ignore[type-var]
    assert host_signals.is_forbidden_burst(max(counts))  # type: ignore[type-var]
    assert host_store.record_forbidden(HOST, NOW + host_signals.FORBIDDEN_WINDOW + 1) == 1
    assert host_store.record_forbidden("unknown.example", NOW) == 0


def test_degraded_keeps_its_first_time_until_cleared() -> None:
    host_store.ensure_host(HOST, NOW)
    host_store.mark_degraded(HOST, NOW)
    host_store.mark_degraded(HOST, NOW + 60)
    [state] = host_store.list_hosts()
    assert state.degraded_since == NOW and state.as_dict(NOW)["degraded"] is True
    host_store.clear_degraded(HOST)
    assert host_store.list_hosts()[0].degraded_since is None


def test_each_function_runs_a_fixed_number_of_queries() -> None:
    host_store.ensure_host(HOST, NOW)
    calls: list[tuple[Callable[[], object], int]] = [
        (lambda: host_store.ensure_hosts([HOST, "x.example", "y.example"], NOW), 2),
        (lambda: host_store.pause(HOST, NOW, "bot_check", 900), 3),
        (lambda: host_store.clear_pause(HOST, "t"), 1),
        (lambda: host_store.release_probe(HOST, "t"), 1),
        (lambda: host_store.record_forbidden(HOST, NOW), 1),
        (lambda: host_store.mark_degraded(HOST, NOW), 1),
        (lambda: host_store.clear_degraded(HOST), 1),
        (lambda: host_store.list_hosts(), 1),
    ]
    for call, expected in calls:
        with count_queries() as statements:
            call()
        assert len(statements) == expected, (call, statements)
    assert Host.select().count() == 3


RESERVER = """
import json, sys
from poller import host_store
from poller.database import open_database
from poller.models import db
open_database(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # start together
with db.connection_context():
    reserve = lambda: host_store.reserve(sys.argv[2], 2, 100.0, float(sys.argv[3])).slots
    slots = [s for _ in range(100) for s in reserve()]
print(json.dumps(slots))
"""


def test_reservations_from_several_processes_never_overlap(database_url: str) -> None:
    host_store.ensure_host(HOST, NOW)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RESERVER, database_url, HOST, repr(NOW)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    slots = sorted(s for out in outputs for s in json.loads(out))
    assert len(slots) == 4 * 100 * 2
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) == pytest.approx(0.01) and max(gaps) == pytest.approx(0.01)


def test_db_init_creates_the_host_table_in_an_existing_database(
    database_url: str, tmp_path
) -> None:
    # A database from before hosts had rows (on PostgreSQL, with channel.host_id's key).
    db.drop_tables([Host], cascade="postgres" in database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(TUBEPOLLER_DATABASE_URL=database_url, TUBEPOLLER_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "poller.cli", "db", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    columns = {column.name for column in db.get_columns("host")}
    assert {field.column_name for field in Host._meta.sorted_fields} == columns
    assert host_store.reserve(HOST, 1, 2, NOW).slots == (NOW,)


def test_the_tick_counts_each_host_s_polled_channels_and_their_weights() -> None:
    from poller.models import Channel

    ids = host_store.ensure_hosts([HOST, "feeds.example"], NOW)
    rows = [
        (HOST, NOW, 0.5),
        (HOST, NOW, 0.25),
        (HOST, NOW, None),  # never polled: counted, weighs nothing yet
        (HOST, None, 0.5),  # nobody subscribes: not polled, not counted
        ("feeds.example", NOW, 0.125),
    ]
    for i, (name, next_poll_at, weight) in enumerate(rows):
        Channel.create(
            kind="feed",
            feed_url=f"http://127.0.0.1/{i}",
            created_at=NOW,
            next_poll_at=next_poll_at,
            host=ids[name],
            poll_weight=weight,
        )
    Host.create(name="idle.example", created_at=NOW, polled_channels=7, weight_sum=3.0)
    with count_queries() as queries:
        host_store.refresh_shares()
    assert len(queries) == 1
    shares = {h.name: (h.polled_channels, h.weight_sum) for h in Host.select()}
    assert shares == {HOST: (3, 0.75), "feeds.example": (1, 0.125), "idle.example": (0, 0)}
