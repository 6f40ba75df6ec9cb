"""The `maeul` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.catalog import check_content
from app.catalog.jsonschema import write_schemas

cli = typer.Typer(help="마을길잡이 — 관리 명령", no_args_is_help=True, add_completion=False)
db_cli = typer.Typer(help="데이터베이스", no_args_is_help=True)
content_cli = typer.Typer(help="사업모델 콘텐츠", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(content_cli, name="content")


def main() -> None:
    cli()


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Apply migrations, check the content, then serve with uvicorn."""
    import uvicorn

    from app.config import get_settings
    from app.migrate import upgrade

    settings = get_settings()
    _require_valid_content(settings.content_dir)
    upgrade(settings.database_url)
    typer.echo(f"마을길잡이: http://{host}:{port}")
    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, proxy_headers=True)


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from app.config import get_settings
    from app.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database upgraded to {revision}")


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


def _require_valid_content(directory: Path) -> None:
    _, problems = check_content(directory)
    if problems:
        for line in problems:
            typer.echo(line, err=True)
        typer.echo("서버를 시작하지 않습니다: 콘텐츠 파일을 고치세요.", err=True)
        raise typer.Exit(1)
