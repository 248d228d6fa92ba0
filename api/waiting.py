"""Long-polling the database: check, let go of the connection, sleep, check again.

A waiting request holds a server thread for up to a minute, so waits are
counted: at most `total` at once in this process, `per_user` of them one
user's. Past either, the answer is a 429 at once, and the threads left over
serve every other request (the health check among them).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import falcon

T = TypeVar("T")

MAX_WAITS = 12  # per API process; api.asgi sizes its thread pool above this
MAX_WAITS_PER_USER = 3
SPARE_THREADS = 4  # threads a process keeps for requests that do not wait
RETRY_AFTER_S = 5


class WaitSlots:
    """Count the waits in flight in this process, overall and per user.

    Args:
        total: waits at once, whoever asks.
        per_user: waits at once of one user.
    """

    def __init__(self, total: int = MAX_WAITS, per_user: int = MAX_WAITS_PER_USER) -> None:
        self.total = total
        self.per_user = per_user
        self._lock = threading.Lock()
        self._users: Counter[int] = Counter()

    def fit(self, threads: int) -> None:
        """Lower the overall cap so that SPARE_THREADS of `threads` never wait."""
        self.total = max(1, min(self.total, threads - SPARE_THREADS))

    @contextmanager
    def hold(self, user_id: int) -> Iterator[None]:
        """Hold a slot while waiting.

        Raises:
            falcon.HTTPTooManyRequests: the process or the user waits too
                much already (429, with Retry-After).
        """
        with self._lock:
            if sum(self._users.values()) >= self.total:
                raise _busy(f"the server holds {self.total} waiting requests already")
            if self._users[user_id] >= self.per_user:
                raise _busy(f"you have {self.per_user} waiting requests already")
            self._users[user_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._users[user_id] -= 1
                if not self._users[user_id]:
                    del self._users[user_id]


# The process's slots: api.asgi fits them to its thread pool.
PROCESS_SLOTS = WaitSlots()


def _busy(why: str) -> falcon.HTTPTooManyRequests:
    return falcon.HTTPTooManyRequests(
        title="Too many waiting requests",
        description=f"{why}; ask again without ?wait, or wait later",
        retry_after=RETRY_AFTER_S,
    )


def wait_for(
    check: Callable[[], T | None],
    seconds: float,
    every: float,
    database: Any,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Call `check` until it returns something or `seconds` pass.

    The connection is released between checks (`database.release()`, then
    `database.connect()`): a waiting request then holds no pooled connection
    while it sleeps, and each check starts on a fresh one, outside any
    transaction, so it sees what the workers committed meanwhile.

    Returns:
        What `check` returned, or None on timeout.
    """
    deadline = clock() + seconds
    while True:
        found = check()
        if found is not None:
            return found
        left = deadline - clock()
        if left <= 0:
            return None
        database.release()
        sleep(min(every, left))
        database.connect()
