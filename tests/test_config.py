from __future__ import annotations

from ipaddress import ip_network

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


def test_trusted_proxies_default_to_none() -> None:
    assert Settings(_env_file=None).trusted_proxies == ()


def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAEUL_TRUSTED_PROXIES", " 10.0.0.5, 10.1.0.0/16,,fd00::/8 ")
    assert Settings().trusted_proxies == (
        ip_network("10.0.0.5/32"),
        ip_network("10.1.0.0/16"),
        ip_network("fd00::/8"),
    )


@pytest.mark.parametrize(
    "value",
    [
        "proxy.internal",  # a name, not an address
        "10.0.0.5,10.0.0.300",
        "10.0.0.5/8",  # host bits set: 10.0.0.0/8 or 10.0.0.5? refused rather than guessed
        "10.0.0.0/33",
        "0.0.0.0/0",  # would trust every peer
        "::/0",
    ],
)
def test_a_bad_trusted_proxy_is_refused_at_load(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MAEUL_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError, match="MAEUL_TRUSTED_PROXIES"):
        Settings()
