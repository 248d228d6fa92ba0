"""Settings: every TUBEPOLLER_* variable, read once, with its default and check.

Each option is declared once, as a field of `Settings` made by `option()`:
its variable, default, check and meaning sit together, and `load()` reads
them from there. Functions that need a setting receive it from the caller.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

PREFIX = "TUBEPOLLER_"
DEFAULT_DATA_DIR = Path("tubepoller-data")
# Long-lived yt-dlp processes per worker process for listings (`ytdlp_pool`).
DEFAULT_YTDLP_WORKERS = 2

# The database URL schemes `database.open_database` opens; config accepts no other.
SQLITE_SCHEMES = ("sqlite",)
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgres+pool", "postgresql+pool")

Check = Callable[[str], Any]  # raw text → value; raises ValueError with the reason


def database_scheme(url: str) -> str | None:
    """Return the URL's scheme when `database.open_database` supports it, else None."""
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    return scheme if sep and scheme in SQLITE_SCHEMES + POSTGRES_SCHEMES else None


# user:password@ in any URL: the password goes, the rest stays readable.
_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^/\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """Return a URL (or any text holding URLs) with each password replaced by ***.

    Every URL the CLI prints or the service logs goes through this, so the
    database and AMQP passwords never reach a terminal or a log file.
    """
    return _PASSWORD.sub(r"\g<head>:***@", text)


def number(low: float, high: float, kind: Callable[[float], Any] = float) -> Check:
    """Return a check of a number between `low` and `high`, converted by `kind`."""

    def read(raw: str) -> Any:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {raw}")
        return kind(value)

    return read


def flag(raw: str) -> bool:
    """Read a boolean: 1/true/yes/on or 0/false/no/off."""
    text = raw.strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"must be 1 or 0, got {text!r}")


def sqlite_or_postgres_url(raw: str) -> str:
    """Check a peewee database URL against the schemes the database layer opens."""
    if database_scheme(raw) is None:
        raise ValueError(f"must be sqlite:///PATH or postgresql://…, got {redact(raw)!r}")
    return raw


def amqp_url(raw: str) -> str:
    """Check a RabbitMQ URL."""
    if not raw.startswith(("amqp://", "amqps://")):
        raise ValueError(f"must be amqp://…, got {redact(raw)!r}")
    return raw


def http_base(raw: str) -> str:
    """Check an http(s) base URL; drop its trailing slashes."""
    url = raw.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return url


def cookies_path(raw: str) -> Path:
    """Check that a cookies.txt file exists."""
    if not Path(raw).is_file():
        raise ValueError(f"must name a cookies.txt file, got {raw!r}")
    return Path(raw)


def host_port(raw: str) -> str:
    """Check a listen address: host:port or [IPv6]:port, the port 0-65535."""
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ValueError(f"must be host:port (e.g. 127.0.0.1:8080 or [::1]:8080), got {raw!r}")
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise ValueError(f"must write an IPv6 host in brackets, as [::1]:8080, got {raw!r}")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"must end in a port number 0-65535, got {raw!r}")
    return raw


def split_host_port(address: str) -> tuple[str, int]:
    """Return the host (without IPv6 brackets) and port of a checked host:port."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def option(default: Any, check: Check, doc: str) -> Any:
    """Declare one option: its default, its check and what it means.

    The variable is TUBEPOLLER_ followed by the field's name in capitals.
    """
    return dataclasses.field(default=default, metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one process."""

    data_dir: Path = option(
        DEFAULT_DATA_DIR, Path, "where the embedded SQLite database and media live"
    )
    database_url: str = option(
        "", sqlite_or_postgres_url, "peewee URL; empty: a SQLite file tubepoller.db under DATA_DIR"
    )
    broker_url: str = option("", amqp_url, "amqp://… for RabbitMQ; empty: in-process broker")
    media_dir: Path = option(DEFAULT_DATA_DIR / "media", Path, "where downloads are written")
    metrics_dir: Path = option(
        DEFAULT_DATA_DIR / "metrics", Path, "where each process writes its Prometheus series"
    )
    youtube_url: str = option(
        "https://www.youtube.com", http_base, "base of every YouTube URL built"
    )
    rss_timeout: float = option(15.0, number(0.1, 600), "total seconds for one feed fetch")
    ytdlp_timeout: float = option(120.0, number(1, 3600), "seconds for a catalog listing")
    ytdlp_workers: int = option(
        DEFAULT_YTDLP_WORKERS,
        number(0, 16, int),
        "long-lived yt-dlp processes per worker process for listings; 0: one yt-dlp per run",
    )
    download_timeout: float = option(1500.0, number(1, 1700), "seconds for one download")
    download_nice: int = option(
        10, number(0, 19, int), "CPU niceness of a download's yt-dlp and ffmpeg (polls come first)"
    )
    downloads_per_process: int = option(
        2,
        number(1, 64, int),
        "downloads one worker process runs at once; the others wait in the queue",
    )
    min_interval: float = option(300.0, number(1, 7 * 86400), "shortest poll interval, s")
    max_interval: float = option(86400.0, number(1, 30 * 86400), "longest poll interval, s")
    max_feed_bytes: int = option(
        5 * 1024 * 1024, number(1024, 1 << 30, int), "body cap of a feed, decompressed"
    )
    max_redirects: int = option(5, number(0, 20, int), "redirects followed per fetch")
    claim_lease: float = option(900.0, number(10, 86400), "seconds a claim on a channel holds")
    allow_private_networks: bool = option(False, flag, "allow loopback/private feed addresses")
    api_bind: str = option(
        "127.0.0.1:8080",
        host_port,
        "host:port or [IPv6]:port where `tubepoller up` serves the API",
    )
    # Hosts (poller/hosts.py): None = 2/s for the YouTube host, 10/s for others.
    host_rate: float | None = option(
        None, number(0.001, 1000), "requests per second per host, for every host"
    )
    host_pause: float = option(
        900.0, number(1, 6 * 3600), "first pause of a host after a bot check or 429, s"
    )
    cookies_file: Path | None = option(
        None, cookies_path, "cookies.txt used only after a bot check or for members-only"
    )
    # WebSub push (poller/websub.py): off unless the hubs can reach us.
    public_url: str = option(
        "", http_base, "base URL hubs reach the API at (WebSub callbacks); empty: push off"
    )
    websub_hub: str = option(
        "https://pubsubhubbub.appspot.com/subscribe", http_base, "the hub of YouTube channels"
    )
    websub_lease: float = option(
        432000.0, number(60, 30 * 86400), "lease asked of a hub, s (renewed before it ends)"
    )
    websub_retry: float = option(
        60.0, number(1, 3600), "first wait after a hub refused or was unreachable, s (doubles)"
    )

    @property
    def push(self) -> bool:
        """Return True when WebSub push is on (a public callback URL is set)."""
        return bool(self.public_url)

    notify_timeout: float = option(10.0, number(0.5, 120), "seconds for one notification's send")
    notify_backoff: float = option(
        15.0, number(0.05, 3600), "seconds before a failed notification's first retry (doubles)"
    )

    @property
    def embedded_broker(self) -> bool:
        """Return True when no RabbitMQ URL is set (in-process broker)."""
        return not self.broker_url


def variable(name: str) -> str:
    """Return the environment variable of the `Settings` field `name`."""
    return PREFIX + name.upper()


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the TUBEPOLLER_* variables; unset or empty ones take their default.

    Raises:
        ConfigError: a variable is malformed or out of range.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(Settings):
        raw = env.get(variable(spec.name), "")
        if raw == "":
            continue
        try:
            values[spec.name] = spec.metadata["check"](raw)
        except ValueError as exc:
            raise ConfigError(f"{variable(spec.name)} {exc}") from None
    data_dir = values.setdefault("data_dir", DEFAULT_DATA_DIR)
    values.setdefault("database_url", f"sqlite:///{data_dir / 'tubepoller.db'}")
    values.setdefault("media_dir", data_dir / "media")
    values.setdefault("metrics_dir", data_dir / "metrics")
    settings = Settings(**values)
    if settings.min_interval > settings.max_interval:
        raise ConfigError(
            f"{PREFIX}MIN_INTERVAL ({settings.min_interval:g}) exceeds "
            f"MAX_INTERVAL ({settings.max_interval:g})"
        )
    return settings


_settings: Settings | None = None


def get() -> Settings:
    """Return this process's settings, loading them on first use."""
    global _settings
    if _settings is None:
        _settings = load()
    return _settings


def override(settings: Settings | None) -> None:
    """Replace this process's settings (tests, `tubepoller up`)."""
    global _settings
    _settings = settings
