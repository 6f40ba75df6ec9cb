"""Settings from the environment (prefix MAEUL_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-only-insecure-secret-change-me"  # noqa: S105 - refused outside development
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAEUL_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///var/maeul.db"
    secret_key: str = DEFAULT_SECRET
    content_dir: Path = Path("content")
    upload_dir: Path = Path("var/uploads")
    max_upload_mb: int = 20
    # 현황판: a track with no activity for this many days (and not complete) is 정체.
    stalled_days: int = Field(default=30, ge=1, le=3650)

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
