"""Settings: each option's default, check and variable, declared once."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from poller import config, database
from poller.config import Settings, load
from poller.errors import ConfigError
from poller.models import db

README = Path(__file__).parent.parent / "README.md"


def test_an_empty_environment_gives_the_declared_defaults() -> None:
    loaded = load({})
    defaults = Settings()
    derived = {"database_url", "media_dir"}
    for spec in dataclasses.fields(Settings):
        if spec.name not in derived:
            assert getattr(loaded, spec.name) == getattr(defaults, spec.name), spec.name
    assert loaded.database_url == "sqlite:///tubepoller-data/tubepoller.db"
    assert loaded.media_dir == Path("tubepoller-data/media")


def test_variables_override_and_derived_paths_follow_the_data_dir() -> None:
    loaded = load(
        {
            "TUBEPOLLER_DATA_DIR": "/srv/tp",
            "TUBEPOLLER_RSS_TIMEOUT": "2.5",
            "TUBEPOLLER_MAX_REDIRECTS": "3",
            "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS": "yes",
            "TUBEPOLLER_YOUTUBE_URL": "http://127.0.0.1:9/",
            "TUBEPOLLER_CLAIM_LEASE": "",  # empty is unset
        }
    )
    assert loaded.database_url == "sqlite:////srv/tp/tubepoller.db"
    assert loaded.media_dir == Path("/srv/tp/media")
    assert (loaded.rss_timeout, loaded.max_redirects) == (2.5, 3)
    assert isinstance(loaded.max_redirects, int)
    assert loaded.allow_private_networks and loaded.youtube_url == "http://127.0.0.1:9"
    assert loaded.claim_lease == Settings().claim_lease


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("RSS_TIMEOUT", "fast", "TUBEPOLLER_RSS_TIMEOUT must be a number, got 'fast'"),
        ("MAX_REDIRECTS", "99", "TUBEPOLLER_MAX_REDIRECTS must be between 0 and 20, got 99"),
        ("ALLOW_PRIVATE_NETWORKS", "maybe", "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS must be 1 or 0"),
        ("BROKER_URL", "redis://x", "TUBEPOLLER_BROKER_URL must be amqp://"),
        ("YOUTUBE_URL", "ftp://x", "TUBEPOLLER_YOUTUBE_URL must be an http(s) URL"),
        ("DATABASE_URL", "mysql://x/y", "TUBEPOLLER_DATABASE_URL must be sqlite:///PATH"),
    ],
)
def test_a_malformed_variable_is_a_one_line_error(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load({f"TUBEPOLLER_{name}": value})


def test_interval_bounds_must_be_ordered() -> None:
    with pytest.raises(ConfigError, match="MIN_INTERVAL"):
        load({"TUBEPOLLER_MIN_INTERVAL": "900", "TUBEPOLLER_MAX_INTERVAL": "600"})


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/a.db",
        "postgres://u@127.0.0.1:1/db",
        "postgresql://u@127.0.0.1:1/db",
        "postgres+pool://u@127.0.0.1:1/db",
        "postgresql+pool://u@127.0.0.1:1/db",
        "psycopg://u@127.0.0.1:1/db",
        "psycopg2://u@127.0.0.1:1/db",
        "postgresfoo://u@127.0.0.1:1/db",
        "sqlite:a.db",
        "mysql://u@127.0.0.1/db",
    ],
)
def test_config_accepts_exactly_the_database_urls_the_database_layer_opens(
    url: str, tmp_path: Path
) -> None:
    url = url.format(tmp=tmp_path)
    try:
        load({"TUBEPOLLER_DATABASE_URL": url})
        accepted = True
    except ConfigError:
        accepted = False
    previous = db.obj
    try:
        database.open_database(url)  # builds the database object; connects on first use
        opened = True
    except ConfigError:
        opened = False
    finally:
        db.initialize(previous)
    assert accepted == opened


def test_every_option_is_in_the_readme() -> None:
    documented = set(re.findall(r"`(TUBEPOLLER_[A-Z_]+)`", README.read_text()))
    for spec in dataclasses.fields(Settings):
        assert config.variable(spec.name) in documented
        assert spec.metadata["doc"]


@pytest.mark.parametrize(
    "shown, redacted",
    [
        ("postgresql://postgres:s3cret@db:5432/tp", "postgresql://postgres:***@db:5432/tp"),
        ("amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unquoted @ in it
        ("sqlite:///data/tubepoller.db", "sqlite:///data/tubepoller.db"),
        ("postgresql://nobody@h/db", "postgresql://nobody@h/db"),
        ("at amqp://a:b@h/ and postgres://c:d@h/x", "at amqp://a:***@h/ and postgres://c:***@h/x"),
    ],
)
def test_redact_hides_every_password_and_keeps_the_rest(shown: str, redacted: str) -> None:
    assert config.redact(shown) == redacted


@pytest.mark.parametrize("bind", ["127.0.0.1:8080", "0.0.0.0:0", "[::1]:8080", "localhost:65535"])
def test_an_api_bind_is_host_and_port(bind: str) -> None:
    assert load({"TUBEPOLLER_API_BIND": bind}).api_bind == bind


def test_an_ipv6_api_bind_is_split_without_its_brackets() -> None:
    assert config.split_host_port("[::1]:8080") == ("::1", 8080)


def test_a_sqlite_url_may_set_the_busy_timeout(tmp_path) -> None:
    previous = db.obj
    try:
        default = database.open_database(f"sqlite:///{tmp_path}/a.db")
        assert default.timeout == database.SQLITE_BUSY_TIMEOUT_S
        short = database.open_database(f"sqlite:///{tmp_path}/b.db?timeout=3")
        assert short.timeout == 3 and short.database == f"{tmp_path}/b.db"
        assert database.sqlite_file(f"sqlite:///{tmp_path}/b.db?timeout=3") == f"{tmp_path}/b.db"
    finally:
        db.initialize(previous)
