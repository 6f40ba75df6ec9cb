"""Settings from the environment (prefix MAEUL_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
