"""Settings read once from the environment (and a `.env` file); nothing here connects."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Literal

import psycopg
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.errors import ConfigurationError

_PACKAGE_ROOT = Path(__file__).resolve().parent


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


CodeMethodSetting = Literal["builtin", "twilio_verify"]
LogFormat = Literal["json", "text"]


class OutboundMode(StrEnum):
    SANDBOX = "sandbox"  # sends are recorded in cc_sandbox_outbox, nothing leaves the machine
    LIVE = "live"  # sends go to Twilio and SendGrid


# The secrets, by setting name. In development a missing one is generated once and kept under
# the data directory; in production what needs an unset secret answers 503 (a webhook, a code).
SECRET_SETTINGS = (
    "TWILIO_AUTH_TOKEN",
    "SENDGRID_EVENT_PUBLIC_KEY",
    "SENDGRID_INBOUND_SECRET",
    "VAPI_SECRET",
    "SWITCHBOARD_SECRET_KEY",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".switchboard"), alias="SWITCHBOARD_DATA_DIR")
    migrations_dir: Path = Field(
        default=_PACKAGE_ROOT.parents[1] / "migrations", alias="SWITCHBOARD_MIGRATIONS_DIR"
    )
    env: Environment = Field(default=Environment.DEVELOPMENT, alias="SWITCHBOARD_ENV")
    # The base URL the providers call (scheme, host, optional path prefix). Twilio signs it.
    public_url: str = Field(default="http://127.0.0.1:8000", alias="SWITCHBOARD_PUBLIC_URL")
    twilio_auth_token: str = Field(default="", alias="TWILIO_AUTH_TOKEN")
    sendgrid_event_public_key: str = Field(default="", alias="SENDGRID_EVENT_PUBLIC_KEY")
    sendgrid_inbound_secret: str = Field(default="", alias="SENDGRID_INBOUND_SECRET")
    vapi_secret: str = Field(default="", alias="VAPI_SECRET")
    default_phone_region: str = Field(default="GB", alias="DEFAULT_PHONE_REGION")
    max_body_bytes: int = Field(default=1_048_576, alias="SWITCHBOARD_MAX_BODY_BYTES", gt=0)
    # The reverse proxies in front of the service, whose X-Forwarded-For names the client
    # (comma-separated addresses or networks). None by default: the client recorded is the
    # connection's, since any local process could otherwise claim to be any client.
    trusted_proxies: str = Field(default="", alias="SWITCHBOARD_TRUSTED_PROXIES")
    # How long a request waits for a database connection before it is answered 503
    # database_unavailable (with Retry-After): a provider's own timeout is 10 to 20 s.
    db_wait_seconds: float = Field(default=5.0, alias="SWITCHBOARD_DB_WAIT_SECONDS", gt=0, le=60)
    # Event Webhook deliveries signed longer ago than this are refused as replays.
    sendgrid_max_age_seconds: int = Field(default=300, alias="SENDGRID_MAX_AGE_SECONDS", gt=0)
    # The key everything Switchboard seals or hashes derives its own subkey from (HKDF): job
    # payloads, one-time codes, destinations. Never stored anywhere.
    switchboard_secret_key: str = Field(default="", alias="SWITCHBOARD_SECRET_KEY")
    # Outbound messages. Unset: the sandbox in development, live in production.
    outbound_provider: OutboundMode | None = Field(default=None, alias="OUTBOUND_PROVIDER")
    twilio_account_sid: str = Field(default="", alias="TWILIO_ACCOUNT_SID")
    twilio_from_number: str = Field(default="", alias="TWILIO_FROM_NUMBER")
    twilio_messaging_service_sid: str = Field(default="", alias="TWILIO_MESSAGING_SERVICE_SID")
    twilio_api_base_url: str = Field(default="https://api.twilio.com", alias="TWILIO_API_BASE_URL")
    sendgrid_api_key: str = Field(default="", alias="SENDGRID_API_KEY")
    sendgrid_from_email: str = Field(default="", alias="SENDGRID_FROM_EMAIL")
    sendgrid_api_base_url: str = Field(
        default="https://api.sendgrid.com", alias="SENDGRID_API_BASE_URL"
    )
    # A send the provider could not take (5xx, 429, no answer) is tried this many times in
    # all, waiting base, 2 x base, 4 x base ... seconds in between.
    outbound_max_attempts: int = Field(default=5, alias="OUTBOUND_MAX_ATTEMPTS", ge=1, le=20)
    outbound_retry_base_seconds: float = Field(
        default=2.0, alias="OUTBOUND_RETRY_BASE_SECONDS", gt=0, le=3600
    )
    outbound_timeout_seconds: float = Field(
        default=10.0, alias="OUTBOUND_TIMEOUT_SECONDS", gt=0, le=300
    )
    # A worker silent this long (no heartbeat: killed, machine lost) is taken for dead, and
    # the others run its jobs again; workers beat and look every third of it.
    outbound_stalled_seconds: float = Field(
        default=15.0, alias="OUTBOUND_STALLED_SECONDS", ge=1, le=3600
    )

    twilio_verify_service_sid: str = Field(default="", alias="TWILIO_VERIFY_SERVICE_SID")
    twilio_verify_base_url: str = Field(
        default="https://verify.twilio.com", alias="TWILIO_VERIFY_BASE_URL"
    )
    # Who makes one-time codes: Switchboard itself (sent through the outbound queue) or Twilio
    # Verify (TWILIO_VERIFY_SERVICE_SID).
    otp_method: CodeMethodSetting = Field(default="builtin", alias="OTP_METHOD")
    # Named in the text of the codes Switchboard sends itself.
    bank_name: str = Field(default="", alias="SWITCHBOARD_BANK_NAME")
    # An emailed code proves the mailbox, not the person: off, it never reaches assurance 2.
    email_otp_level_2: bool = Field(default=False, alias="SWITCHBOARD_EMAIL_OTP_LEVEL_2")
    # /docs, /redoc and /openapi.json. Unset: served in development, not in production, where
    # the map of every route is nobody's business but the bank's.
    api_docs: bool | None = Field(default=None, alias="SWITCHBOARD_API_DOCS")
    # Unset: one JSON object a line in production (for a log collector), readable text in
    # development (docs/operations.md).
    log_format: LogFormat | None = Field(default=None, alias="SWITCHBOARD_LOG_FORMAT")
    # One line a request. Unset: on in production, off in development.
    access_log: bool | None = Field(default=None, alias="SWITCHBOARD_ACCESS_LOG")
    # The bearer token GET /metrics asks for. Unset: /metrics is refused in production, open
    # in development.
    metrics_token: str = Field(default="", alias="SWITCHBOARD_METRICS_TOKEN")
    # Live updates (GET /api/v1/events): how many streams one agent may hold open at once (a
    # tab each), how many one process serves in all, and how often a quiet stream beats and
    # checks that its session is still live.
    live_streams_per_agent: int = Field(
        default=10, alias="SWITCHBOARD_LIVE_STREAMS_PER_AGENT", ge=1, le=100
    )
    live_streams_most: int = Field(default=500, alias="SWITCHBOARD_LIVE_STREAMS_MOST", ge=1)
    live_heartbeat_seconds: float = Field(
        default=15.0, alias="SWITCHBOARD_LIVE_HEARTBEAT_SECONDS", gt=0, le=60
    )

    @field_validator(
        "public_url", "twilio_api_base_url", "sendgrid_api_base_url", "twilio_verify_base_url"
    )
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            try:
                ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or network") from exc
        return ",".join(entries)

    @field_validator("database_url")
    @classmethod
    def _connection_string(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        try:
            psycopg.conninfo.conninfo_to_dict(value)
        except psycopg.ProgrammingError:
            # libpq's reason quotes the string, and with it perhaps the password.
            raise ValueError("not a PostgreSQL connection string libpq can read") from None
        return value

    @field_validator("default_phone_region")
    @classmethod
    def _region_code(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be a two-letter region code such as GB or US")
        return value.upper()

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        try:
            settings = cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            hint = "see the settings table in README.md"
            if any(e["loc"] == ("DATABASE_URL",) for e in exc.errors()):
                hint = (
                    "write it as postgresql://USER:PASSWORD@HOST:5432/DBNAME (percent-encode"
                    " spaces and @ / : in the password), or unset it to use the embedded server"
                )
            raise ConfigurationError(f"invalid settings: {problems}", hint=hint) from exc
        if settings.production and settings.outbound_provider is OutboundMode.SANDBOX:
            raise ConfigurationError(
                "OUTBOUND_PROVIDER=sandbox is refused in production: no customer would receive "
                "a single message",
                hint="set OUTBOUND_PROVIDER=live (or leave it unset) with the Twilio and "
                "SendGrid credentials in the README's settings table",
            )
        if not settings.migrations_dir.is_dir():
            raise ConfigurationError(
                f"migrations folder not found at {settings.migrations_dir}",
                hint="set SWITCHBOARD_MIGRATIONS_DIR to the folder holding 001_….sql",
            )
        return settings

    @property
    def production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def api_docs_served(self) -> bool:
        return (not self.production) if self.api_docs is None else self.api_docs

    @property
    def log_format_used(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.production else "text"

    @property
    def access_log_on(self) -> bool:
        return self.production if self.access_log is None else self.access_log

    @property
    def outbound_mode(self) -> OutboundMode:
        if self.outbound_provider is not None:
            return self.outbound_provider
        return OutboundMode.LIVE if self.production else OutboundMode.SANDBOX

    def missing_secrets(self) -> list[str]:
        return [name for name in SECRET_SETTINGS if not self.secret(name)]

    def secret(self, name: str) -> str:
        return str(getattr(self, name.lower())).strip()
