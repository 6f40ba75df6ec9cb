from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import DEFAULT_SECRET, Settings


def test_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.database_url == "sqlite:///var/maeul.db"
    assert str(s.content_dir) == "content"
    assert str(s.upload_dir) == "var/uploads"
    assert s.env == "development"


@pytest.mark.parametrize("secret", [DEFAULT_SECRET, "short-secret"])
def test_production_refuses_weak_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="MAEUL_SECRET_KEY"):
        Settings(env="production", secret_key=secret)


def test_production_accepts_a_long_random_secret() -> None:
    assert Settings(env="production", secret_key="k" * 40).is_production


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAEUL_DATABASE_URL", "sqlite:///elsewhere.db")
    assert Settings().database_url == "sqlite:///elsewhere.db"
