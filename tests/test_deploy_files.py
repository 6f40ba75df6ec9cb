"""The Dockerfile, compose.yaml and deploy/ run what they say: every command they would run, run.

There is no container engine here, so the files are read as an engine would read them and
each command is run on this machine instead: the migration and the server with the image's
and compose's environment (container paths mapped to this checkout, PostgreSQL a throwaway
database), the image's HEALTHCHECK against that server, compose's pg_isready against the
test PostgreSQL. What only an engine would do (build, networks, Caddy) is checked for
consistency: files that exist, names spelled as the app reads them, addresses that agree.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import httpx2
import pytest
import typer
import yaml
from sqlalchemy.engine import make_url
from sqlmodel import select

from app.cli import cli
from app.config import Settings
from app.db import make_engine, transaction
from app.models import LoginFailure
from tests.conftest import POSTGRES_URL, ROOT
from tests.servers import MAEUL, SECRET, ServerProcess, free_port

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"

# What an operator's .env would hold (the names deploy/env.example lists).
OPERATOR_ENV = {
    "SITE_DOMAIN": "maeul.test",
    "POSTGRES_PASSWORD": "pw-Only_url-safe-characters",
    "MAEUL_SECRET_KEY": SECRET,
    "MAEUL_WORKERS": "2",
}


# --- reading the files as Docker and Compose do ----------------------------------------------


@dataclass
class Dockerfile:
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments), continuations joined

    @classmethod
    def read(cls, path: Path = DOCKERFILE) -> Dockerfile:
        instructions: list[tuple[str, str]] = []
        pending = ""
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#") or not line.strip():
                continue  # Docker drops comment lines, even inside a continuation
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            keyword, _, rest = (pending + line).strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
        assert not pending, "a continuation at the end of the Dockerfile"
        return cls(instructions)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def one(self, keyword: str) -> str:
        found = self.all(keyword)
        assert len(found) == 1, f"{keyword}: {found}"
        return found[0]

    @property
    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                name, eq, value = pair.partition("=")
                assert eq, f"ENV {pair!r}: write NAME=value"
                env[name] = value
        return env

    @property
    def workdir(self) -> str:
        return self.one("WORKDIR")

    @property
    def port(self) -> int:
        return int(self.one("EXPOSE"))

    @property
    def cmd(self) -> list[str]:
        cmd = json.loads(self.one("CMD"))  # exec form: no shell between Docker and maeul
        assert isinstance(cmd, list)
        return [str(part) for part in cmd]

    @property
    def healthcheck(self) -> list[str]:
        options, sep, command = self.one("HEALTHCHECK").partition(" CMD ")
        assert sep, "HEALTHCHECK without CMD"
        return shlex.split(command)


class MissingVariableError(Exception):
    pass


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} and $$."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3) or ""
        current = env.get(name)
        if op == ":-":
            return current or arg
        if op == "-":
            return arg if current is None else current
        if (op == ":?" and not current) or (op == "?" and current is None):
            raise MissingVariableError(f"{name}: {arg}")
        return current or ""

    return _VARIABLE.sub(one, value)


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolve(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    return node


def compose_raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())  # merge keys (<<: *maeul) resolved by PyYAML
    assert isinstance(data, dict)
    return data


def compose(env: Mapping[str, str] = OPERATOR_ENV) -> dict[str, Any]:
    resolved = resolve(compose_raw(), env)
    assert isinstance(resolved, dict)
    return resolved


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the "- NAME=value" form
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, eq, value = line.partition("=")
            assert eq, line
            values[name.strip()] = value.strip()
    return values


def app_reads() -> set[str]:
    """Every environment variable the app reads: its settings and the CLI's own options."""
    names = {f"MAEUL_{field.upper()}" for field in Settings.model_fields}

    def walk(command: Any) -> None:  # typer's own click: groups are told by their commands
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(cli))
    return names


def on_this_machine(env: Mapping[str, str], workdir: str, data: Path) -> dict[str, str]:
    """Container paths as paths of this checkout: the WORKDIR is the repository, /data a tmp dir."""
    mapped = {}
    for name, value in env.items():
        if value.startswith(workdir + "/"):
            value = str(ROOT / value.removeprefix(workdir + "/"))
        elif value.startswith("/data/"):
            value = str(data / value.removeprefix("/data/"))
        mapped[name] = value
    return mapped


def host_environment() -> dict[str, str]:
    """This machine's environment without any MAEUL_ setting of the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MAEUL_")}


# --- the files agree with the repository and the app -----------------------------------------


def test_every_copy_source_exists_and_is_sent_to_the_build() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    sources = []
    for args in Dockerfile.read().all("COPY"):
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        assert "--from" not in args, "a multi-stage COPY: teach this test"
        sources += parts[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        for pattern in ignored:
            assert not fnmatch.fnmatch(source, pattern.rstrip("/")), f"COPY {source}: .dockerignore drops it"


def test_every_setting_is_spelled_as_the_app_reads_it() -> None:
    known = app_reads()
    assert {"MAEUL_DATABASE_URL", "MAEUL_WORKERS", "MAEUL_STORAGE"} <= known
    written = set(Dockerfile.read().env) | set(env_example())
    for service in compose_raw()["services"].values():
        written |= set(environment_of(service))
    ours = {name for name in written if name.startswith("MAEUL_")}
    assert ours - known == set(), "not a setting of the app (see app/config.py, app/cli.py)"


def test_compose_refuses_to_start_without_the_secrets_env_example_lists() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert {"MAEUL_SECRET_KEY", "POSTGRES_PASSWORD", "SITE_DOMAIN"} <= required
    assert required <= set(env_example()), "deploy/env.example must list every required variable"
    assert set(OPERATOR_ENV) == set(env_example())
    for name in required:
        without = {k: v for k, v in OPERATOR_ENV.items() if k != name}
        with pytest.raises(MissingVariableError, match=name):
            compose(without)
    # Secrets are never given a default in the file.
    assert not env_example()["MAEUL_SECRET_KEY"]
    assert not env_example()["POSTGRES_PASSWORD"]


def test_the_app_containers_are_stateless_and_wait_for_the_migration() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "app", "proxy"}
    app, migrate, db = services["app"], services["migrate"], services["db"]
    env = environment_of(app)
    assert env["MAEUL_STORAGE"] == "database"
    assert env["MAEUL_ENV"] == "production"
    assert make_url(env["MAEUL_DATABASE_URL"]).get_backend_name() == "postgresql"
    assert env == environment_of(migrate)
    assert "volumes" not in app, "app containers keep no state"
    assert app["deploy"]["replicas"] >= 2
    assert "command" not in app, "the app runs the image's CMD (tested below)"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    assert app["build"] == migrate["build"] == "."
    assert (ROOT / app["build"] / "Dockerfile").is_file()
    # The URL names the db service and the user and database it creates.
    url = make_url(env["MAEUL_DATABASE_URL"])
    db_env = environment_of(db)
    assert url.host == "db"
    assert url.port == 5432
    assert url.username == db_env["POSTGRES_USER"]
    assert url.database == db_env["POSTGRES_DB"]
    assert url.password == db_env["POSTGRES_PASSWORD"] == OPERATOR_ENV["POSTGRES_PASSWORD"]
    assert any(v.split(":")[0] in compose()["volumes"] for v in db["volumes"])
    assert db["image"].startswith("postgres:")


def test_the_proxy_is_the_one_address_the_app_trusts() -> None:
    data = compose()
    proxy = data["services"]["proxy"]
    network_name = next(iter(proxy["networks"]))
    address = ip_address(proxy["networks"][network_name]["ipv4_address"])
    ipam = data["networks"][network_name]["ipam"]["config"][0]
    assert address in ip_network(ipam["subnet"])
    # Outside the range the engine hands out, so no other container can be given it.
    assert address not in ip_network(ipam["ip_range"])
    trusted = Settings(trusted_proxies=environment_of(data["services"]["app"])["MAEUL_TRUSTED_PROXIES"])
    assert [address in network for network in trusted.trusted_proxies] == [True]
    assert trusted.trusted_proxies[0].num_addresses == 1
    for name in ("app", "migrate", "db"):
        assert data["services"][name]["networks"] == [network_name]


def test_caddy_serves_the_domain_and_spreads_requests_over_every_app_container() -> None:
    data = compose()
    proxy = data["services"]["proxy"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in proxy["volumes"]}
    assert (ROOT / mounts["/etc/caddy/Caddyfile"]).resolve() == CADDYFILE
    config = "\n".join(
        line for line in CADDYFILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    assert config.count("{") == config.count("}")
    site = config.lstrip().split(None, 1)[0]
    assert site == "{$SITE_DOMAIN}"
    assert environment_of(proxy)["SITE_DOMAIN"] == OPERATOR_ENV["SITE_DOMAIN"]
    # Every replica of the app service by DNS, on the port the image serves.
    dynamic = re.search(r"^\s*dynamic a (\S+) (\d+)", config, re.MULTILINE)
    assert dynamic, "reverse_proxy must find the app containers with `dynamic a SERVICE PORT`"
    assert dynamic.group(1) in data["services"]
    assert dynamic.group(1) == "app"
    assert int(dynamic.group(2)) == Dockerfile.read().port
    # HTTPS in front: the production cookie is Secure, and the base URL says https.
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    assert (
        environment_of(data["services"]["app"])["MAEUL_BASE_URL"] == f"https://{OPERATOR_ENV['SITE_DOMAIN']}"
    )


def test_the_image_serves_on_its_exposed_port_and_checks_the_same_one() -> None:
    dockerfile = Dockerfile.read()
    cmd = dockerfile.cmd
    assert cmd[:2] == ["maeul", "serve"]
    options = dict(zip(cmd[2::2], cmd[3::2], strict=True))
    # Only what ServerProcess passes too (host, port): the rest comes from the environment.
    assert options == {"--host": "0.0.0.0", "--port": str(dockerfile.port)}  # noqa: S104
    assert f"127.0.0.1:{dockerfile.port}/healthz" in " ".join(dockerfile.healthcheck)
    assert int(dockerfile.env["MAEUL_WORKERS"]) >= 2
    assert dockerfile.env["MAEUL_ENV"] == "production"


# --- the commands, run ---------------------------------------------------------------------


def _pg_isready() -> str | None:
    return shutil.which("pg_isready") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_isready"))), None
    )


def test_the_database_healthcheck_answers_for_a_running_postgres() -> None:
    binary = _pg_isready()
    if binary is None:
        pytest.skip("pg_isready is not installed")
    test = compose()["services"]["db"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    argv = test[1:]
    assert argv[0] == "pg_isready"
    server = make_url(POSTGRES_URL)
    # In the container the server is on 127.0.0.1:5432; here it is the tests' server.
    argv = [binary, *argv[1:]]
    argv[argv.index("-h") + 1] = server.host or "127.0.0.1"
    argv += ["-p", str(server.port or 5432)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode == 2:  # no response: no server to test against
        pytest.skip(f"PostgreSQL not reachable: {result.stdout}")
    assert result.returncode == 0, result.stdout + result.stderr
    # And it says no when nothing listens there.
    argv[-1] = str(free_port())
    assert subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode != 0


def _healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    dockerfile = Dockerfile.read()
    argv = dockerfile.healthcheck
    assert argv[0] == "python"  # the image's python, which has the app installed
    argv = [sys.executable, *[a.replace(f":{dockerfile.port}/", f":{port}/") for a in argv[1:]]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_migrate_then_serve_as_the_compose_services_run_them(fresh_database_url, tmp_path: Path) -> None:
    dockerfile = Dockerfile.read()
    data = compose()
    url = fresh_database_url("postgresql")
    # The image's environment, then the service's, as Docker layers them.
    env = host_environment() | dockerfile.env | environment_of(data["services"]["app"])
    env = on_this_machine(env, dockerfile.workdir, tmp_path / "data")
    env["MAEUL_DATABASE_URL"] = url  # a throwaway database stands in for the db service
    env["MAEUL_TRUSTED_PROXIES"] = "127.0.0.1"  # this test stands where Caddy does
    assert env["MAEUL_CONTENT_DIR"] == str(ROOT / "content")

    migrate = data["services"]["migrate"]["command"]
    assert migrate == ["maeul", "db", "upgrade"]
    done = subprocess.run(
        [str(MAEUL), *migrate[1:]], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

    with ServerProcess(env, workers=None, log_path=tmp_path / "serve.log") as server:
        health = httpx2.get(f"{server.url}/healthz", timeout=10)
        assert health.json()["status"] == "ok"
        assert "strict-transport-security" in health.headers  # production
        assert len(server.worker_pids()) == int(env["MAEUL_WORKERS"]), server.log()
        checked = _healthcheck(server.port)
        assert checked.returncode == 0, checked.stderr

        # Behind the proxy: the session cookie is Secure, and the client is the one the proxy
        # names (X-Forwarded-For), not the proxy itself.
        with httpx2.Client(base_url=server.url, timeout=30) as client:
            form = client.get("/login")
            cookie = form.headers["set-cookie"]
            assert "secure" in cookie.lower()
            token = re.search(r'name="csrf-token" content="([^"]+)"', form.text)
            assert token
            answer = client.post(
                "/login",
                data={"username": "nobody", "password": "wrong-password", "csrf_token": token.group(1)},
                headers={
                    "Cookie": cookie.split(";", 1)[0],  # over http the jar withholds a Secure cookie
                    "X-Forwarded-For": "203.0.113.50",
                    "X-Forwarded-Proto": "https",
                },
            )
            assert answer.status_code == 401, answer.text[:300]
        engine = make_engine(url)
        try:
            with transaction(engine) as session:
                assert session.exec(select(LoginFailure.client)).all() == ["203.0.113.50"]
        finally:
            engine.dispose()
    assert _healthcheck(server.port).returncode != 0  # and it fails once the server is gone
