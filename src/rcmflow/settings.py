"""Process settings, read from ``RCMFLOW_*`` environment variables and validated at start-up.

An invalid setting raises :class:`rcmflow.errors.ConfigurationError` when the settings are first read, so
a misconfigured process stops before it touches any data.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from rcmflow.errors import ConfigurationError

ENV_PREFIX = "RCMFLOW_"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Drivers rcmflow is tested against; anything else would be an untested code path holding PHI.
_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"})
_POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_ALIASES = frozenset({"postgresql", _POSTGRES_DRIVER})


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'rcmflow.db'}"


def _default_data_dir() -> Path:
    return Path.cwd() / "rcmflow-data"


def _normalised_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        # The URL may hold a password: name the problem, never echo the value.
        raise ValueError("database URL is not a valid URL") from exc
    driver = parsed.drivername
    if driver in _POSTGRES_ALIASES:
        # psycopg 3 is the one PostgreSQL driver we ship; plain postgresql:// would pick psycopg2.
        parsed = parsed.set(drivername=_POSTGRES_DRIVER)
    elif driver not in _SQLITE_DRIVERS:
        raise ValueError(
            f"database URL scheme {driver!r} is not supported; "
            "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
        )
    return parsed.render_as_string(hide_password=False)


def normalise_database_url(url: str) -> str:
    """Return ``url`` with its driver made explicit, or raise ConfigurationError if unsupported."""
    try:
        return _normalised_url(url)
    except ValueError as exc:
        raise ConfigurationError(detail=str(exc)) from exc


def _describe(location: tuple[int | str, ...], message: str) -> str:
    field = ".".join(str(part) for part in location)
    # Name the environment variable too: that is where an operator will go to fix it.
    return f"{field} ({ENV_PREFIX}{field.upper()}): {message.removeprefix('Value error, ')}"


class Settings(BaseSettings):
    """Validated settings of one rcmflow process."""

    # hide_input_in_errors: a rejected database URL may carry a password; keep it out of tracebacks.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, hide_input_in_errors=True)

    database_url: str = Field(default_factory=_default_database_url)
    data_dir: Path = Field(default_factory=_default_data_dir)
    log_level: LogLevel = "INFO"
    # "console" for people at a terminal, "json" (one object per line) for log collectors; PHI is redacted in both.
    log_format: Literal["console", "json"] = "console"
    # Outbox destination -> webhook URL the relay posts to, as JSON in RCMFLOW_OUTBOX_WEBHOOKS. A destination
    # with no URL gets no handler: its messages wait, pending, until one is configured.
    outbox_webhooks: dict[str, str] = Field(default_factory=dict)
    # Work-queue policies (SLAs, escalation chains, business calendar) and the approval policy: YAML files;
    # None means the versions shipped with rcmflow.
    queue_policies: Path | None = None
    approval_policy: Path | None = None
    # Deposits and remittances still unreconciled this many days after their value or payment date open a
    # reconciliation work item.
    reconciliation_age_days: int = Field(default=3, ge=0)
    # Claim payments posted per transaction: a crash loses at most one batch's work (redone on the next run).
    posting_batch_size: int = Field(default=20_000, ge=1, le=1_000_000)
    # The control tower's reports and the process maps stored per facility set of the principals limited to some
    # facilities: the most facility sets one run of the "kpi reports" or the "process maps" schedule refreshes
    # (those refreshed longest ago first; each costs about what the organisation's own refresh costs).
    stored_facility_sets_per_run: int = Field(default=4, ge=0, le=1_000)
    # Payer contracts (expected allowed amounts, variance tolerance): a YAML file; None means the shipped one.
    payer_contracts: Path | None = None
    # The claim scrubber: extra rule packs (files or folders of YAML, loaded after the built-in packs, as a
    # JSON list in RCMFLOW_RULE_PACKS), payer policies (timely filing, prior authorisation), the CMS NCCI
    # quarterly files (PTP and MUE; the shipped subset when none) and a licensed CPT descriptor file.
    rule_packs: tuple[Path, ...] = ()
    payer_policies: Path | None = None
    ncci_ptp_files: tuple[Path, ...] = ()
    ncci_mue_files: tuple[Path, ...] = ()
    cpt_file: Path | None = None
    # Claim submission: trading partners (clearinghouses, payers), their ids and drop folders.
    trading_partners: Path | None = None
    # HL7 v2 charge feeds: the billing provider of each sending facility (YAML; None: the shipped file).
    hl7_facilities: Path | None = None
    # The REST API: access token lifetime (seconds or ISO 8601), requests per second per caller and the burst
    # above it (per server process), the largest request body, and the browser origins allowed to call it
    # cross-site (none: CORS off).
    api_token_ttl: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0), le=timedelta(hours=24))
    api_rate_limit: float = Field(default=50.0, gt=0)
    api_rate_burst: int = Field(default=100, ge=1)
    # Calls without valid credentials (the token endpoint, mostly), per client address: harder, since it slows
    # down guessing secrets.
    api_anonymous_rate_limit: float = Field(default=5.0, gt=0)
    api_anonymous_rate_burst: int = Field(default=20, ge=1)
    api_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    api_cors_origins: tuple[str, ...] = ()
    # Keys encrypting health information at rest (docs/design/phi.md): a JSON key file, or the same JSON inline
    # (a secret: never echoed). Neither: <data_dir>/keys/phi-keys.json, created on first use.
    phi_key_file: Path | None = None
    phi_keys: SecretStr | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            problems = "; ".join(_describe(err["loc"], err["msg"]) for err in errors)
            raise ConfigurationError(detail=problems) from exc
        except SettingsError as exc:
            raise ConfigurationError(detail=str(exc)) from exc

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return _normalised_url(value)

    @field_validator("outbox_webhooks")
    @classmethod
    def _check_webhooks(cls, value: dict[str, str]) -> dict[str, str]:
        for destination, url in value.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"webhook URL of destination {destination!r} must start with http:// or https://")
        return value

    @field_validator("data_dir", "phi_key_file")
    @classmethod
    def _absolute_data_dir(cls, value: Path | None) -> Path | None:
        # Pin relative paths to the start-up directory so a later chdir cannot move the data.
        return None if value is None else value.expanduser().absolute()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process settings, read and validated once."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings so the next ``get_settings()`` reads the environment again (tests)."""
    get_settings.cache_clear()
