"""The errors tubepoller raises, one small hierarchy."""


class TubepollerError(Exception):
    """Base class of every error tubepoller raises on purpose."""


class ConfigError(TubepollerError):
    """Raised when a TUBEPOLLER_* setting is missing or malformed."""


class NotFound(TubepollerError):
    """Raised when a user, channel or video named by the caller does not exist."""


class AlreadyExists(TubepollerError):
    """Raised when a user to create has the name of one that exists."""


class UnusableURL(TubepollerError):
    """Raised when a channel URL cannot be polled (bad scheme, host or shape)."""


class PollError(TubepollerError):
    """Base class of the errors that end one poll or download."""

    transient = False
    # The HTTP status that caused it, when a server answered (the poll history shows it).
    http_status: int | None = None


class TransientError(PollError):
    """Raised when a retry may succeed: network failure, timeout, 5xx, 429.

    Args:
        message: what went wrong, one line.
        retry_after_s: the server's Retry-After, when it sent one.
    """

    transient = True

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(PollError):
    """Raised when retrying now cannot help: 404, 410, a body that is no feed."""


class BlockedAddress(PermanentError):
    """Raised when a URL resolves to a loopback, private or link-local address."""


class UnknownKind(TubepollerError):
    """Raised when a subscription's `include` names no kind or an unknown one."""


class InternalError(PermanentError):
    """Raised in place of an unexpected exception that ended a poll (a bug, say).

    Its message is one line: ``internal error: <type>: <message>``.
    """

    def __init__(self, exc: Exception) -> None:
        text = " ".join(str(exc).split())
        reason = f"internal error: {type(exc).__name__}" + (f": {text}" if text else "")
        super().__init__(reason if len(reason) <= 300 else reason[:299] + "…")


class Unavailable(PermanentError):
    """Raised when a video exists but cannot be had: private, members-only, removed, geo-blocked.

    Retrying cannot help and it says nothing about the channel's health.
    """


class NotYetAvailable(PollError):
    """Raised when a video is an upcoming premiere or live event: try again at ``at``.

    Args:
        message: what the site said, one line.
        at: epoch seconds when the video should be available.
    """

    def __init__(self, message: str, at: float) -> None:
        super().__init__(message)
        self.at = at


class MediaDirError(TransientError):
    """Raised when the media directory cannot take a download (missing, a file, read-only).

    The operator's to fix, not the video's: transient, so a fixed ``MEDIA_DIR`` lets the
    retries through without anyone asking for the video again.
    """


class UnknownEvent(TubepollerError):
    """Raised when a notification target asks for an event that does not exist, or for none."""
