"""Long-polling the database: check, let go of the connection, sleep, check again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


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
