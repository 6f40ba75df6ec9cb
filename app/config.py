"""Settings from the environment (prefix MAEUL_)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "dev-only-insecure-secret-change-me"  # noqa: S105 - refused outside development
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    # Errors never echo the values: the SMTP URL and the secret key hold credentials.
    model_config = SettingsConfigDict(env_prefix="MAEUL_", extra="ignore", hide_input_in_errors=True)

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///var/maeul.db"
    secret_key: str = DEFAULT_SECRET
    content_dir: Path = Path("content")
    upload_dir: Path = Path("var/uploads")
    # Where uploaded files' bytes live: files under upload_dir, or rows in the database (for app
    # hosts that keep no state; meant for PostgreSQL). `maeul storage copy` moves them over.
    storage: Literal["local", "database"] = "local"
    max_upload_mb: int = 20
    # 현황판: a track with no activity for this many days (and not complete) is 정체.
    stalled_days: int = Field(default=30, ge=1, le=3650)
    # The e-mail digest (`maeul notify digest`): smtp://user:pass@host:587 sends in clear or, when
    # the server offers it, upgrades with STARTTLS; smtps://user:pass@host:465 is TLS from the
    # first byte. Credentials are percent-decoded. Empty: no e-mail at all.
    smtp_url: str = ""
    mail_from: str = "마을길잡이 <noreply@localhost>"
    # The public address of the site, for links in e-mail (pages use relative links).
    base_url: str = "http://127.0.0.1:8000"
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs). Empty:
    # the socket peer is the client, so nobody can pick their own address for the login throttle.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_shape(cls, value: str) -> str:
        value = value.strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError(
                    "MAEUL_SMTP_URL must look like smtp://user:password@host:587 or smtps://user:password@host:465"
                )
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError as exc:
                raise ValueError(f"MAEUL_SMTP_URL has an invalid port: {exc}") from exc
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_shape(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "MAEUL_BASE_URL must be the site's public address, e.g. https://maeul.example.kr"
            )
        return value.strip().rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        networks = []
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            try:
                # strict: "10.0.0.1/8" is refused, not silently read as 10.0.0.0/8
                network = ip_network(entry, strict=True)
            except ValueError as exc:
                raise ValueError(
                    f"MAEUL_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                    f"(e.g. 10.0.0.5, 10.0.0.0/24, fd00::/64): {exc}"
                ) from exc
            if network.prefixlen == 0:
                # Trusting every peer would let any client choose its own address.
                raise ValueError(f"MAEUL_TRUSTED_PROXIES: {entry!r} would trust every address")
            networks.append(network)
        return tuple(networks)

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> Settings:
        if self.env == "production" and (
            self.secret_key == DEFAULT_SECRET or len(self.secret_key) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                f"MAEUL_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters when MAEUL_ENV=production"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
