"""Downloads one worker process runs at once; the others wait in the queue.

A worker that consumes both the poll and the downloads queue (a small
install's one ``dramatiq poller.actors``) gives a message whichever of its
threads is free, and a download holds its thread for as long as yt-dlp runs:
a burst of new videos took most of the threads the polls needed. Past
TUBEPOLLER_DOWNLOADS_PER_PROCESS a download is not started; its message is
sent again a little later and the thread goes back to the polls at once.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Seconds before a download that found every slot taken is sent again, ±50 %,
# so that a burst does not come back all at once.
WAIT_S = 10.0


class Slots:
    """A count of the downloads running in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0

    @contextmanager
    def take(self, limit: int) -> Iterator[bool]:
        """Hold one slot while the block runs; yield False, holding none, when all are taken."""
        with self._lock:
            free = self.running < limit
            if free:
                self.running += 1
        try:
            yield free
        finally:
            if free:
                with self._lock:
                    self.running -= 1


SLOTS = Slots()  # one per process: every worker thread downloads through it


def wait_s(rand: Callable[[], float] = random.random) -> float:
    """Return the seconds until a download that found no free slot is tried again."""
    return WAIT_S * (0.5 + rand())
