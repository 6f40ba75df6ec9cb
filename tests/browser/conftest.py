"""A live server in a thread and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine, transaction
from app.main import create_app
from app.migrate import upgrade
from app.services.demo import DEMO_PASSWORD, load_demo
from tests.conftest import IN_CI, _unavailable

CHROMIUM = os.environ.get("MAEUL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "mobile": {"width": 360, "height": 780}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, settings: Settings, catalog: Catalog):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, catalog=catalog)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.engine.dispose()


@pytest.fixture(scope="session")
def live_settings(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Settings:
    """A real, committed SQLite database (the browser needs data that persists between requests),
    loaded with the demo organizations, users and tracks."""
    base = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{base / 'live.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            load_demo(session=session, catalog=catalog)
    finally:
        engine.dispose()
    return Settings(
        database_url=url,
        content_dir=Path(__file__).resolve().parents[2] / "content",
        upload_dir=base / "uploads",
        secret_key="browser-secret-" + "x" * 32,
    )


@pytest.fixture(scope="session")
def live_server(live_settings: Settings, catalog: Catalog) -> Iterator[LiveServer]:
    with LiveServer(live_settings, catalog) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        _unavailable("playwright is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shot():
    """Save a full-page screenshot under artifacts/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        # caret="initial": hiding the caret leaves style="" on every input, which htmx then copies
        # onto swapped-in elements with the same id, and our CSP (style-src 'self') reports that.
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take


def login(page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the form, the way a person does, and wait for the landing page."""
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.locator("form.form button[type=submit]").click()


def console_errors(page) -> list[str]:
    """Collect the page's console errors (CSP violations, script errors, failed loads)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def no_horizontal_overflow(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


__all__ = ["DEMO_PASSWORD", "IN_CI", "VIEWPORTS", "console_errors", "login", "no_horizontal_overflow"]


@pytest.fixture(scope="session")
def cooperative_ids(live_server: LiveServer) -> dict[str, int]:
    """Demo cooperative name → id in the live database."""
    from sqlmodel import Session, select

    from app.models import Cooperative

    with Session(live_server.app.state.engine) as session:
        return {c.name: c.id for c in session.exec(select(Cooperative)) if c.id is not None}
