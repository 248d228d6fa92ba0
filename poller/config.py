"""Settings: every TUBEPOLLER_* variable, read once, with its default and check."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

PREFIX = "TUBEPOLLER_"


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{PREFIX}{name} must be between {low:g} and {high:g}, got {raw}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(PREFIX + name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{PREFIX}{name} must be 1 or 0, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one process."""

    data_dir: Path = Path("tubepoller-data")
    database_url: str = ""
    broker_url: str = ""
    media_dir: Path = Path("tubepoller-data/media")
    youtube_url: str = "https://www.youtube.com"
    rss_timeout: float = 15.0
    ytdlp_timeout: float = 120.0
    download_timeout: float = 1500.0
    min_interval: float = 300.0
    max_interval: float = 86400.0
    max_feed_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    claim_lease: float = 900.0
    allow_private_networks: bool = False
    api_bind: str = "127.0.0.1:8080"
    # Hosts (poller/hosts.py): None = 2/s for the YouTube host, 10/s for others.
    host_rate: float | None = None
    host_pause: float = 900.0
    cookies_file: Path | None = None

    @property
    def embedded_broker(self) -> bool:
        """Return True when no RabbitMQ URL is set (in-process broker)."""
        return not self.broker_url


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the TUBEPOLLER_* variables.

    Raises:
        ConfigError: a variable is malformed or out of range.
    """
    env = os.environ if env is None else env
    data_dir = Path(env.get(PREFIX + "DATA_DIR") or "tubepoller-data")
    database_url = env.get(PREFIX + "DATABASE_URL") or f"sqlite:///{data_dir / 'tubepoller.db'}"
    if not database_url.startswith(("sqlite:", "postgres", "psycopg")):
        raise ConfigError(
            f"{PREFIX}DATABASE_URL must be sqlite:///PATH or postgresql://…, got {database_url!r}"
        )
    broker_url = env.get(PREFIX + "BROKER_URL", "")
    if broker_url and not broker_url.startswith(("amqp://", "amqps://")):
        raise ConfigError(f"{PREFIX}BROKER_URL must be amqp://…, got {broker_url!r}")
    youtube_url = (env.get(PREFIX + "YOUTUBE_URL") or "https://www.youtube.com").rstrip("/")
    if not youtube_url.startswith(("http://", "https://")):
        raise ConfigError(f"{PREFIX}YOUTUBE_URL must be an http(s) URL, got {youtube_url!r}")
    min_interval = _number(env, "MIN_INTERVAL", 300, 1, 7 * 86400)
    max_interval = _number(env, "MAX_INTERVAL", 86400, 1, 30 * 86400)
    if min_interval > max_interval:
        raise ConfigError(
            f"{PREFIX}MIN_INTERVAL ({min_interval:g}) exceeds MAX_INTERVAL ({max_interval:g})"
        )
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url,
        media_dir=Path(env.get(PREFIX + "MEDIA_DIR") or data_dir / "media"),
        youtube_url=youtube_url,
        rss_timeout=_number(env, "RSS_TIMEOUT", 15, 0.1, 600),
        ytdlp_timeout=_number(env, "YTDLP_TIMEOUT", 120, 1, 3600),
        download_timeout=_number(env, "DOWNLOAD_TIMEOUT", 1500, 1, 1700),
        min_interval=min_interval,
        max_interval=max_interval,
        max_feed_bytes=int(_number(env, "MAX_FEED_BYTES", 5 * 1024 * 1024, 1024, 1 << 30)),
        max_redirects=int(_number(env, "MAX_REDIRECTS", 5, 0, 20)),
        claim_lease=_number(env, "CLAIM_LEASE", 900, 10, 86400),
        allow_private_networks=_flag(env, "ALLOW_PRIVATE_NETWORKS"),
        api_bind=env.get(PREFIX + "API_BIND") or "127.0.0.1:8080",
        **_host_settings(env),
    )


def _host_settings(env: Mapping[str, str]) -> dict:
    """Read the per-host budget, pause and cookies settings."""
    cookies = env.get(PREFIX + "COOKIES_FILE") or None
    if cookies is not None and not Path(cookies).is_file():
        raise ConfigError(f"{PREFIX}COOKIES_FILE must name a cookies.txt file, got {cookies!r}")
    return {
        # 0 is "unset"; a set rate is positive (0.001/s: one request every ~17 min).
        "host_rate": _number(env, "HOST_RATE", 0, 0.001, 1000) or None,
        "host_pause": _number(env, "HOST_PAUSE", 900, 1, 6 * 3600),
        "cookies_file": Path(cookies) if cookies else None,
    }


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
