"""Settings are read from RCMFLOW_* variables and refuse bad values at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcmflow.errors import ConfigurationError
from rcmflow.settings import Settings, get_settings, normalise_database_url, reset_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("RCMFLOW_DATABASE_URL", "RCMFLOW_DATA_DIR", "RCMFLOW_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    reset_settings()


def test_defaults_live_in_the_working_directory(tmp_path: Path) -> None:
    settings = Settings()

    assert settings.database_url == f"sqlite:///{tmp_path / 'rcmflow.db'}"
    assert settings.data_dir == tmp_path / "rcmflow-data"
    assert settings.log_level == "INFO"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", "sqlite:////var/lib/rcmflow/main.db")
    monkeypatch.setenv("RCMFLOW_DATA_DIR", "inbox")
    monkeypatch.setenv("RCMFLOW_LOG_LEVEL", "warning")

    settings = Settings()

    assert settings.database_url == "sqlite:////var/lib/rcmflow/main.db"
    # Relative paths are pinned at start-up so a later chdir cannot move the data.
    assert settings.data_dir == tmp_path / "inbox"
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://rcm:s3cr%40t@db.example:5432/rcm",
            "postgresql+psycopg://rcm:s3cr%40t@db.example:5432/rcm",
        ),
        ("postgresql+psycopg://rcm@db/rcm", "postgresql+psycopg://rcm@db/rcm"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
    ],
)
def test_database_url_is_normalised_to_psycopg3(given: str, expected: str) -> None:
    assert Settings(database_url=given).database_url == expected
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize(
    "url",
    [
        "mysql://rcm:hunter2@db/rcm",
        "postgresql+psycopg2://rcm:hunter2@db/rcm",
        "postgres://rcm:hunter2@db/rcm",
        "oracle://rcm:hunter2@db/rcm",
        "not a url at all hunter2",
    ],
)
def test_unsupported_database_urls_are_refused_without_echoing_secrets(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", url)

    with pytest.raises(ConfigurationError) as refused:
        Settings()

    assert "database_url" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in str(refused.value.__cause__)


def test_normalise_refuses_with_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'mysql' is not supported"):
        normalise_database_url("mysql://db/rcm")


@pytest.mark.parametrize("level", ["debug", "Info", " WARNING ", "error", "critical"])
def test_log_level_is_case_insensitive(level: str) -> None:
    assert Settings(log_level=level).log_level == level.strip().upper()


@pytest.mark.parametrize("level", ["verbose", "", "TRACE", 10])
def test_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch, level: object) -> None:
    monkeypatch.setenv("RCMFLOW_LOG_LEVEL", str(level))

    with pytest.raises(ConfigurationError, match="log_level"):
        Settings()


def test_get_settings_reads_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCMFLOW_LOG_LEVEL", "debug")
    first = get_settings()
    monkeypatch.setenv("RCMFLOW_LOG_LEVEL", "error")

    assert get_settings() is first
    assert get_settings().log_level == "DEBUG"

    reset_settings()
    assert get_settings().log_level == "ERROR"


def test_get_settings_refuses_bad_environment_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCMFLOW_DATABASE_URL", "mssql://db/rcm")

    with pytest.raises(ConfigurationError):
        get_settings()


def test_settings_are_frozen() -> None:
    settings = Settings()

    with pytest.raises(Exception, match="frozen"):
        settings.log_level = "DEBUG"  # type: ignore[misc]
