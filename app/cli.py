"""The `maeul` command."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from sqlmodel import Session, select

from app.catalog import Catalog, check_content
from app.catalog.jsonschema import write_schemas
from app.config import Settings, get_settings
from app.input_guard import parse_iso_date
from app.models import User
from app.models.user import ROLES
from app.services import audit

if TYPE_CHECKING:  # imported when run: the commands load what they need
    from sqlalchemy import Engine

    from app.services.backup import Manifest
    from app.storage import Storage

cli = typer.Typer(help="마을길잡이 — 관리 명령", no_args_is_help=True, add_completion=False)
db_cli = typer.Typer(help="데이터베이스", no_args_is_help=True)
content_cli = typer.Typer(help="사업모델 콘텐츠", no_args_is_help=True)
user_cli = typer.Typer(help="사용자", no_args_is_help=True)
token_cli = typer.Typer(help="API 토큰", no_args_is_help=True)
demo_cli = typer.Typer(help="데모 데이터", no_args_is_help=True)
notify_cli = typer.Typer(help="알림: 기한 점검과 매일 요약 메일", no_args_is_help=True)
storage_cli = typer.Typer(help="증빙 파일 저장소 (MAEUL_STORAGE)", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(content_cli, name="content")
cli.add_typer(user_cli, name="user")
cli.add_typer(token_cli, name="token")
cli.add_typer(demo_cli, name="demo")
cli.add_typer(notify_cli, name="notify")
cli.add_typer(storage_cli, name="storage")


def main() -> None:
    cli()


def _settings() -> Settings:
    """Settings, or one clear line and exit 1 (not a traceback) when the environment is wrong."""
    try:
        return get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            typer.echo(
                f"error: settings{': ' + where if where else ''}: {err['msg'].removeprefix('Value error, ')}",
                err=True,
            )
        raise typer.Exit(1) from exc


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes", envvar="MAEUL_WORKERS", min=1)] = 1,
) -> None:
    """Apply migrations, check the content, then serve with uvicorn.

    Several hosts may start at once against one PostgreSQL: they migrate one after another
    (app.migrate takes a lock), and each serves once the schema is current.
    """
    import uvicorn

    from app.migrate import upgrade

    settings = _settings()
    _require_writable_database(settings.database_url)
    _require_valid_content(settings.content_dir)
    upgrade(settings.database_url)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        # Fine on this host (WAL, one writer at a time); a second host cannot share the file.
        typer.echo("note: SQLite serves several workers on this one host only; several hosts need PostgreSQL")
    typer.echo(f"마을길잡이: http://{host}:{port}")
    # Forwarded client address and scheme are believed from MAEUL_TRUSTED_PROXIES only (the same
    # rule the login throttle applies); uvicorn's default would also trust 127.0.0.1.
    trusted = ",".join(str(net) for net in settings.trusted_proxies)
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from app.migrate import upgrade

    url = _settings().database_url
    _require_writable_database(url)
    upgrade(url, revision)
    typer.echo(f"database upgraded to {revision}")


@db_cli.command("refresh-summaries")
def db_refresh_summaries() -> None:
    """Rebuild every track's 현황판 summary from the item states and the log."""
    from app.services.summary import refresh_all

    catalog = _catalog()
    with _unit_of_work() as session:
        count = refresh_all(session=session, catalog=catalog)
    typer.echo(f"refreshed {count} track summaries (content version {catalog.version})")


@cli.command("backup")
def backup_cmd(file: Annotated[Path, typer.Argument(help="The archive to write (a new .zip file)")]) -> None:
    """Write one archive: every table's rows, the evidence files, content and schema versions."""
    from app.services.backup import backup

    m = _archive(lambda engine, storage: backup(engine=engine, storage=storage, target=file))
    typer.echo(
        f"backup written to {file}: {sum(m.rows.values()):,} rows, {m.files} files, schema {m.revision}"
    )


@cli.command("restore")
def restore_cmd(file: Annotated[Path, typer.Argument(help="An archive written by `maeul backup`")]) -> None:
    """Load an archive into an empty database at the same schema revision (SQLite or PostgreSQL)."""
    from app.services.backup import restore

    m = _archive(lambda engine, storage: restore(engine=engine, storage=storage, source=file))
    typer.echo(
        f"restored {sum(m.rows.values()):,} rows and {m.files} files from {file} (schema {m.revision})"
    )


def _archive(run: Callable[[Engine, Storage], Manifest]) -> Manifest:
    """Backup or restore against the configured database and storage; a refusal is one line."""
    from app.db import make_engine
    from app.services.backup import BackupError
    from app.storage import storage_for

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        return run(engine, storage_for(settings, engine))
    except BackupError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()


class StorageKind(StrEnum):
    local = "local"
    database = "database"


@storage_cli.command("copy")
def storage_copy(
    to: Annotated[StorageKind, typer.Option("--to", help="The storage to copy into (from the other one)")],
) -> None:
    """Copy every evidence and decision file from the other storage into the one given, checking
    size and SHA-256. Files already there are skipped (safe to run again); nothing is deleted."""
    from app.db import make_engine
    from app.storage import StorageError, copy_files, open_storage

    settings = _settings()
    engine = make_engine(settings.database_url)
    source_kind = "local" if to is StorageKind.database else "database"
    source = open_storage(source_kind, upload_dir=settings.upload_dir, engine=engine)
    target = open_storage(to.value, upload_dir=settings.upload_dir, engine=engine)
    try:
        report = copy_files(engine=engine, source=source, target=target)
    except StorageError as exc:
        _fail(f"could not write to {target.label}: {exc.__cause__ or exc}")
    finally:
        engine.dispose()
    typer.echo(
        f"copied {report.copied} files from {source.label} to {target.label}; "
        f"{report.present} already there, {len(report.missing)} missing, {len(report.damaged)} damaged"
    )
    for name in report.missing:
        typer.echo(f"missing from {source.label}: {name}", err=True)
    for name in report.damaged:
        typer.echo(f"size or SHA-256 differs from the recorded one (not copied): {name}", err=True)
    if report.missing or report.damaged:
        raise typer.Exit(1)


@content_cli.command("check")
def content_check(directory: Annotated[Path, typer.Argument()] = Path("content")) -> None:
    """Validate a content folder: one line per problem, exit 1 when there is any."""
    catalog, problems = check_content(directory)
    if catalog is None:
        for line in problems:
            typer.echo(line, err=True)
        typer.echo(f"{len(problems)} problem(s) in {directory}", err=True)
        raise typer.Exit(1)
    notes = sum(1 for m in catalog.models for _, i in m.items if i.note)
    typer.echo(
        f"{directory}: ok — {len(catalog.models)} models, {catalog.item_count} items, "
        f"{notes} notes, {len(catalog.actors)} actors"
    )


@content_cli.command("schema")
def content_schema(directory: Annotated[Path, typer.Argument()] = Path("content")) -> None:
    """Regenerate the JSON Schemas editors use (schema.json, roles.schema.json)."""
    for path in write_schemas(directory):
        typer.echo(f"wrote {path}")


def _require_writable_database(url: str) -> None:
    """One line naming the read-only SQLite file, not SQLite's traceback from the first write."""
    from app.db import DatabaseNotWritableError, require_writable_database

    try:
        require_writable_database(url)
    except DatabaseNotWritableError as exc:
        _fail(str(exc))


def _require_valid_content(directory: Path) -> None:
    _, problems = check_content(directory)
    if problems:
        for line in problems:
            typer.echo(line, err=True)
        typer.echo("서버를 시작하지 않습니다: 콘텐츠 파일을 고치세요.", err=True)
        raise typer.Exit(1)


# --- users, tokens, demo data ------------------------------------------------------------------


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    from app.db import make_engine, transaction

    engine = make_engine(_settings().database_url)
    try:
        with transaction(engine) as session:
            yield session
    finally:
        engine.dispose()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _find_user(session: Session, login: str) -> User:
    user = session.exec(select(User).where(User.login == login)).first()
    if user is None:
        _fail(f"no user with login {login!r}")
    return user


@user_cli.command("add")
def user_add(
    login: str,
    role: Annotated[str, typer.Option(help="coop | center | municipality | admin")],
    org: Annotated[str, typer.Option(help="Exact name of the cooperative, center or municipality")] = "",
    name: Annotated[str, typer.Option(help="Display name (default: the login)")] = "",
    email: Annotated[str, typer.Option(help="E-mail address for the daily digest (optional)")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create a user; the password is read from standard input."""
    from app.services.orgs import ORG_KIND_LABEL, FormError, find_org_by_name, save_user

    if not password_stdin:
        _fail("pass the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    if role not in ROLES:
        _fail(f"role {role!r} is not one of {', '.join(ROLES)}")
    with _unit_of_work() as session:
        org_id: int | None = None
        if role == "admin":
            if org:
                _fail("an admin belongs to no organization: leave out --org")
        else:
            if not org:
                _fail(f"a {role} user needs --org, the exact name of the {ORG_KIND_LABEL[role]}")
            org_id = find_org_by_name(session=session, role=role, name=org)
            if org_id is None:
                _fail(
                    f"no {ORG_KIND_LABEL[role]} named {org!r} (role {role} needs that kind of organization)"
                )
        values = {
            "login": login,
            "display_name": name or login,
            "role": role,
            "org_id": str(org_id or ""),
            "password": password,
            "email": email,
        }
        try:
            user = save_user(session=session, values=values)
        except FormError as exc:
            _fail("; ".join(f"{field}: {msg}" for field, msg in exc.errors.items()))
        audit.record(
            session=session,
            actor=None,
            action="create",
            kind="users",
            obj=user,
            after=audit.snapshot(session, "users", user),
        )
        typer.echo(f"created user {user.login} ({role}{', ' + org if org else ''})")


@user_cli.command("deactivate")
def user_deactivate(login: str) -> None:
    """Deactivate a user: no login, and their open sessions end."""
    from app.services.orgs import set_user_active

    with _unit_of_work() as session:
        user = _find_user(session, login)
        if user.is_active:
            set_user_active(session=session, user=user, active=False)
            audit.record(
                session=session,
                actor=None,
                action="deactivate",
                kind="users",
                obj=user,
                extra={"is_active": [True, False]},
            )
    typer.echo(f"deactivated {login}")


@token_cli.command("create")
def token_create(login: str) -> None:
    """Create an API token for LOGIN and print it (it is shown only once)."""
    from app.services.auth import create_token

    with _unit_of_work() as session:
        user = _find_user(session, login)
        new = create_token(session=session, user=user)
        audit.record(
            session=session,
            actor=None,
            action="token_create",
            kind="users",
            obj=user,
            extra={"token": [None, new.token[:12]]},
        )
    typer.echo(new.token)


@token_cli.command("revoke")
def token_revoke(login: str) -> None:
    """Revoke every API token of LOGIN."""
    from app.services.auth import revoke_tokens

    with _unit_of_work() as session:
        user = _find_user(session, login)
        count = revoke_tokens(session=session, user=user)
        if count:
            audit.record(
                session=session,
                actor=None,
                action="token_revoke",
                kind="users",
                obj=user,
                extra={"token": [f"{count}개", None]},
            )
    typer.echo(f"revoked {count} token(s) of {login}")


@demo_cli.command("load")
def demo_load(
    cooperatives: Annotated[
        int,
        typer.Option(
            "--cooperatives",
            min=0,
            help="Also add N synthetic cooperatives across Korea with 18 months of history "
            "(skips those already there, so a larger N adds only the new ones)",
        ),
    ] = 0,
) -> None:
    """Load the demo cooperatives, organizations and users (idempotent; refused in production)."""
    from app.services.demo import DEMO_PASSWORD, load_demo
    from app.services.synthetic import load_synthetic

    if _settings().is_production:
        _fail("demo data is refused when MAEUL_ENV=production")
    catalog = _catalog()
    with _unit_of_work() as session:
        counts = load_demo(session=session, catalog=catalog)
        synthetic = load_synthetic(session=session, catalog=catalog, cooperatives=cooperatives)
    extra = (
        f"; {synthetic.added:,} synthetic cooperatives added ({synthetic.present:,} already there), "
        f"{synthetic.tracks:,} tracks, {synthetic.events:,} events, {synthetic.users:,} users"
        if cooperatives
        else ""
    )
    typer.echo(
        f"demo data ready: {counts['cooperatives']} cooperatives, {counts['tracks_started']} tracks started now"
        f"{extra}; every demo user's password is {DEMO_PASSWORD}"
    )


# --- 알림 ------------------------------------------------------------------------------------------


def _day(value: str) -> date:
    """--day YYYY-MM-DD, or today in Asia/Seoul."""
    from app.services.tracking import today_kst

    if not value:
        return today_kst()
    try:
        return parse_iso_date(value)
    except ValueError:
        _fail(f"--day must be a date as YYYY-MM-DD, not {value!r}")


DayOption = Annotated[str, typer.Option("--day", help="The day (YYYY-MM-DD, Asia/Seoul); default today")]


@notify_cli.command("scan")
def notify_scan(day: DayOption = "") -> None:
    """Notify due-soon, overdue items and consultation follow-ups (idempotent; no e-mail)."""
    from app.services.notifications import scan_due

    when = _day(day)
    catalog = _catalog()
    with _unit_of_work() as session:
        result = scan_due(session=session, catalog=catalog, today=when)
    typer.echo(
        f"scan {when.isoformat()}: {result.created} new notifications ({result.candidates} due) · "
        f"새 알림 {result.created}건"
    )


@notify_cli.command("digest")
def notify_digest(day: DayOption = "") -> None:
    """Run the scan, then e-mail each user with an address one digest for the day (once a day)."""
    from app.db import make_engine
    from app.routes.notifications import mail_links
    from app.services.mail import Mailer, parse_smtp_url, send_digests

    settings = _settings()
    if not settings.smtp_url:
        _fail(
            "MAEUL_SMTP_URL is not set: no e-mail can be sent (e.g. smtp://user:password@mail.example.kr:587). "
            "요약 메일을 보내려면 MAEUL_SMTP_URL을 설정하세요."
        )
    when = _day(day)
    catalog = _catalog()
    engine = make_engine(settings.database_url)
    try:
        with Mailer(parse_smtp_url(settings.smtp_url)) as mailer:
            run = send_digests(
                engine=engine,
                catalog=catalog,
                settings=settings,
                day=when,
                links=mail_links(settings.base_url),
                mailer=mailer,
            )
    finally:
        engine.dispose()
    typer.echo(run.summary())
    if run.failed:
        raise typer.Exit(1)  # cron reports it; the failed ones are retried on the next run


def _catalog() -> Catalog:
    from app.catalog import load_catalog

    return load_catalog(_settings().content_dir)
