"""Send polls and downloads to the workers: how the CLI and the API enqueue work.

Polls go through the scheduler's claim (`enqueue.enqueue_polls`), so a channel whose
poll is queued or running is not queued again; downloads are sent as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .config import Settings
from .enqueue import enqueue_polls


class Queues:
    """The poll, download and notify queues of the broker the actors are declared on."""

    def __init__(self, poll_actor: Any, download_actor: Any, settings: Settings) -> None:
        self.poll_actor = poll_actor
        self.download_actor = download_actor
        self.settings = settings

    @classmethod
    def of_actors(cls, settings: Settings) -> Queues:
        """Return the queues of `poller.actors`, declaring the actors if need be."""
        from . import actors  # the broker `dramatiq poller.actors` workers read

        return cls(actors.poll_channel, actors.download_video, settings)

    def poll(self, channel_ids: Sequence[int] | None, now: float) -> int:
        """Claim channels (None: every one) and send their polls; return how many were sent.

        Raises:
            dramatiq.errors.BrokerError: the broker refused a send; the
                channels not sent are released for the next tick.
        """
        return enqueue_polls(
            self.poll_actor, now, self.settings, due_only=False, channel_ids=channel_ids
        )

    def download(self, video_id: int) -> None:
        """Send the download of a video marked wanted."""
        self.download_actor.send(video_id)

    def notify(self, delivery_ids: Sequence[int]) -> None:
        """Send queued notification deliveries to the `notify` queue."""
        from . import actors

        for delivery_id in delivery_ids:
            actors.send_notify.send(delivery_id)
